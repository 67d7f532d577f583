"""The frozen CLIP vision tower whose per-patch features are EVA's MIM targets (SPEC §2)."""
from typing import Optional

import torch
from mmengine.logging import print_log
from torch import nn

from ..models.checkpoint import CheckpointError, read_checkpoint, unwrap_checkpoint
from ..registry import MODELS


@MODELS.register_module()
class OpenCLIPVisionTeacher(nn.Module):
    """A frozen open_clip ``VisionTransformer``; ``forward`` returns per-patch targets.

    The target of each patch is the tower's output token after its final LayerNorm
    (``ln_post``) and projection (``@ proj``), exactly as the official EVA teacher; the cls
    token is dropped. (open_clip's ``output_tokens=True`` returns the tokens after ``ln_post``
    but *before* ``proj``, so the projection is applied here.)

    Args:
        model_name: an open_clip model name, e.g. ``'ViT-L-14-quickgelu'`` (OpenAI CLIP-L/14,
            the paper's teacher), built with ``pretrained=None``.
        model_cfg: instead of a name, an open_clip model config dict (``embed_dim``,
            ``vision_cfg``, optional ``quick_gelu``); used for tiny teachers.
        checkpoint: optional weights file: a whole open_clip CLIP state dict (``visual.*``
            keys are taken) or a vision-tower state dict. Read by :meth:`init_weights` (the
            runner calls it when training starts, after eva_mm's weights check), not at build.
    """

    def __init__(self,
                 model_name: Optional[str] = None,
                 model_cfg: Optional[dict] = None,
                 checkpoint: Optional[str] = None) -> None:
        super().__init__()
        import open_clip
        from open_clip.model import _build_vision_tower
        if (model_name is None) == (model_cfg is None):
            raise ValueError('give exactly one of model_name and model_cfg')
        if model_name is not None:
            cfg = open_clip.get_model_config(model_name)
            if cfg is None:
                raise ValueError(f'unknown open_clip model {model_name!r}')
        else:
            cfg = dict(model_cfg)
            if 'embed_dim' not in cfg or 'vision_cfg' not in cfg:
                raise ValueError(f'model_cfg needs embed_dim and vision_cfg, got {sorted(cfg)}')
        if cfg['vision_cfg'].get('timm_model_name'):
            raise ValueError('the teacher must be an open_clip VisionTransformer, not a timm tower')
        self.visual = _build_vision_tower(cfg['embed_dim'], cfg['vision_cfg'],
                                          quick_gelu=cfg.get('quick_gelu', False))
        if not hasattr(self.visual, 'ln_post') or getattr(self.visual, 'attn_pool', None) is not None:
            raise ValueError('the teacher tower must be a plain CLIP ViT (ln_post + proj)')
        self.embed_dim = int(cfg['embed_dim'])
        self.patch_size = int(self.visual.patch_size[0])
        self.grid_size = tuple(self.visual.grid_size)
        self.checkpoint = checkpoint
        self.requires_grad_(False)
        self.eval()

    def init_weights(self) -> None:
        """Load ``checkpoint`` (if given); mmengine calls this through the parent model."""
        if self.checkpoint is not None:
            self.load_weights(self.checkpoint)

    def load_weights(self, path: str) -> None:
        """Load an open_clip CLIP (``visual.*``) or vision-tower state dict, strictly."""
        sd = unwrap_checkpoint(read_checkpoint(path))
        if any(k.startswith('visual.') for k in sd):
            sd = {k[len('visual.'):]: v for k, v in sd.items() if k.startswith('visual.')}
        missing, unexpected = self.visual.load_state_dict(sd, strict=False)
        if missing or unexpected:
            raise CheckpointError(f'teacher checkpoint {path} does not match the CLIP tower: '
                                  f'missing {missing[:5]}, unexpected {unexpected[:5]}')
        print_log(f'MIM teacher: loaded {path}', logger='current')

    def train(self, mode: bool = True) -> 'OpenCLIPVisionTeacher':
        """The teacher always stays in eval mode."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> targets (B, H/p * W/p, embed_dim)."""
        v = self.visual
        tokens = v.transformer(v._embeds(x))
        tokens = v.ln_post(tokens)
        if v.proj is not None:
            tokens = tokens @ v.proj
        return tokens[:, 1:].float()
