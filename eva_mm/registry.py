"""eva_mm's registries (scope ``eva_mm``), children of mmengine's root registries.

Because every registry here has mmengine's root registry as parent, a config of any mm*
library (mmdet, mmseg, mmaction2, mmpretrain) can say ``type='eva_mm.EVAViT'`` once
``custom_imports=dict(imports=['eva_mm'])`` has imported the package: mmengine resolves the
``eva_mm.`` prefix by searching the root's children for the scope ``eva_mm``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

_SCOPE = 'eva_mm'


def _child(name: str, parent: Registry, location: str) -> Registry:
    return Registry(name, parent=parent, scope=_SCOPE, locations=[location])


MODELS = _child('model', MMENGINE_MODELS, 'eva_mm')
MODEL_WRAPPERS = _child('model wrapper', MMENGINE_MODEL_WRAPPERS, 'eva_mm')
WEIGHT_INITIALIZERS = _child('weight initializer', MMENGINE_WEIGHT_INITIALIZERS, 'eva_mm')
TASK_UTILS = _child('task util', MMENGINE_TASK_UTILS, 'eva_mm')
DATASETS = _child('dataset', MMENGINE_DATASETS, 'eva_mm')
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS, 'eva_mm')
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS, 'eva_mm')
OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS, 'eva_mm')
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS, 'eva_mm')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, 'eva_mm')
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS, 'eva_mm')
HOOKS = _child('hook', MMENGINE_HOOKS, 'eva_mm')
LOOPS = _child('loop', MMENGINE_LOOPS, 'eva_mm')
RUNNERS = _child('runner', MMENGINE_RUNNERS, 'eva_mm')
METRICS = _child('metric', MMENGINE_METRICS, 'eva_mm')
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR, 'eva_mm')
VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS, 'eva_mm')
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS, 'eva_mm')
