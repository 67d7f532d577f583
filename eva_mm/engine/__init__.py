"""Training-engine components: optimizer constructors and hooks."""
from .hooks import RNGStateHook
from .layer_decay import LayerDecayOptimWrapperConstructor, find_layered_module

__all__ = ['LayerDecayOptimWrapperConstructor', 'RNGStateHook', 'find_layered_module']
