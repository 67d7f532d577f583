"""eva_mm: one EVA ViT backbone for every OpenMMLab task.

``import eva_mm`` applies the stack fixes in :mod:`eva_mm.compat` and registers every eva_mm
module in eva_mm's registries (scope ``eva_mm``), so mm* configs reach them with
``custom_imports=dict(imports=['eva_mm'])`` and ``type='eva_mm.<Name>'``.
"""
from . import compat  # noqa: F401  (first: fixes upstream breakages before anything imports)
from . import engine, layers, models  # noqa: F401
from . import cls, det, pretrain, seg, video  # noqa: F401  (task adapters)
from .models import EVAViT  # noqa: F401
from .registry import MODELS  # noqa: F401

__version__ = '0.1.0'
