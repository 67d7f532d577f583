"""mmseg's ``SegTTAModel`` that refuses to wrap another TTA model (``tools/test.py X_ms.py
--tta`` died at the first image: ``TypeError: 'SegDataSample' object is not iterable`` inside
mmseg's data preprocessor)."""
from mmseg.models import SegTTAModel as MMSegTTAModel

from ..det.tta import refuse_nested_tta
from ..registry import MODELS


@MODELS.register_module()
class SegTTAModel(MMSegTTAModel):
    """``SegTTAModel`` (logits of all views averaged) whose ``module`` must be a segmentor, not
    another TTA model; same arguments."""

    def __init__(self, module: dict, **kwargs) -> None:
        refuse_nested_tta('SegTTAModel', module)
        super().__init__(module=module, **kwargs)


__all__ = ['SegTTAModel']
