"""Training-engine components: optimizer constructors and hooks."""
from .hooks import ConvertCheckpointHook, RNGStateHook
from .layer_decay import LayerDecayOptimWrapperConstructor, find_layered_module

__all__ = ['ConvertCheckpointHook', 'LayerDecayOptimWrapperConstructor', 'RNGStateHook',
           'find_layered_module']
