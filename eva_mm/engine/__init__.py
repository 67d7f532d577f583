"""Training-engine components: optimizer constructors, hooks, the pretrained-weights check and
the opt-in bad-sample policy."""
from .bad_samples import SkipBadSamples, TooManyBadSamples
from .deepspeed import DeepSpeedStrategy
from .hooks import ConvertCheckpointHook, RNGStateHook
from .layer_decay import LayerDecayOptimWrapperConstructor, find_layered_module
from .weights import CheckPretrainedWeightsHook, MissingWeightsError, check_pretrained_weights

__all__ = ['ConvertCheckpointHook', 'LayerDecayOptimWrapperConstructor', 'RNGStateHook',
           'find_layered_module', 'CheckPretrainedWeightsHook', 'MissingWeightsError',
           'check_pretrained_weights', 'SkipBadSamples', 'TooManyBadSamples', 'DeepSpeedStrategy']
