"""EVAVideoHead: mmaction2's ``TimeSformerHead`` (optional dropout + one Linear on the pooled
backbone features, (B, C) -> (B, K)) that can start from the head of a video checkpoint, with
the official K722 -> K400/600/700 class mapping."""
from typing import Optional

from mmaction.models.heads import TimeSformerHead
from mmengine.logging import MMLogger

from ..models.checkpoint import CheckpointError
from ..registry import MODELS
from .convert import read_video_head


@MODELS.register_module()
class EVAVideoHead(TimeSformerHead):
    """``TimeSformerHead`` + initialisation from a video checkpoint's head.

    Args:
        class_mapping: with ``init_cfg=dict(type='Pretrained', checkpoint=...)``: when the
            checkpoint's head has another number of classes, row ``i`` of this head is row
            ``class_mapping[i]`` of the checkpoint's (an int64 ``.npy`` file as the official
            ``k722_to_k400_mapping.npy``, or a list). Official rule: applied only when the
            sizes differ.
        **kwargs: as ``TimeSformerHead`` (``num_classes``, ``in_channels``, ``dropout_ratio``,
            ``init_std``, ``average_clips``, ``init_cfg``, ...).

    ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` reads an official EVA-01 video
    checkpoint or an eva_mm ``Recognizer3D`` checkpoint (``cls_head.fc_cls.*``).
    """

    def __init__(self, *args, class_mapping: Optional[object] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.class_mapping = class_mapping

    def init_weights(self) -> None:
        """Pretrained init_cfg: copy (or map) the checkpoint's head; else as TimeSformerHead."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            w, b, note = read_video_head(cfg['checkpoint'], self.num_classes, self.class_mapping)
            if w.shape[1] != self.in_channels:
                raise CheckpointError(f'{cfg["checkpoint"]}: head width {w.shape[1]}, this head '
                                      f'{self.in_channels}')
            self.fc_cls.weight.data.copy_(w)
            self.fc_cls.bias.data.copy_(b)
            MMLogger.get_current_instance().info(f'EVAVideoHead: {note} from {cfg["checkpoint"]}')
            self._is_init = True
            return
        super().init_weights()


__all__ = ['EVAVideoHead']
