"""Training-engine components: optimizer constructors, hooks and the pretrained-weights check."""
from .hooks import ConvertCheckpointHook, RNGStateHook
from .layer_decay import LayerDecayOptimWrapperConstructor, find_layered_module
from .weights import CheckPretrainedWeightsHook, MissingWeightsError, check_pretrained_weights

__all__ = ['ConvertCheckpointHook', 'LayerDecayOptimWrapperConstructor', 'RNGStateHook',
           'find_layered_module', 'CheckPretrainedWeightsHook', 'MissingWeightsError',
           'check_pretrained_weights']
