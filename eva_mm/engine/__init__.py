"""Training-engine components: optimizer constructors and hooks."""
from .layer_decay import LayerDecayOptimWrapperConstructor, find_layered_module

__all__ = ['LayerDecayOptimWrapperConstructor', 'find_layered_module']
