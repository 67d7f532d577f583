"""EVA masked image modeling: regress CLIP patch features of masked patches (SPEC §2).

student  = ``EVAViT(use_mask_token=True)``: masked patches are replaced by the [MASK] token;
           its final LayerNorm (``backbone.norm``) is the "LayerNorm" of the paper
head     = ``lm_head``: Linear(C, D) to the teacher's feature dim (official key name)
teacher  = frozen CLIP vision tower (:class:`OpenCLIPVisionTeacher`), targets after ln_post
           and projection
loss     = negative cosine similarity, averaged over the masked patches of the batch
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from ..registry import MODELS


def masked_cosine_loss(pred: torch.Tensor, target: torch.Tensor,
                       mask: torch.Tensor) -> torch.Tensor:
    """Negative cosine similarity on masked patches only.

    Args:
        pred: (B, N, D) predictions.
        target: (B, N, D) teacher features.
        mask: (B, N) bool, True = masked.
    Returns:
        scalar: ``-mean(cos(pred_i, target_i))`` over the masked patches i (in [-1, 1]).
    """
    if pred.shape != target.shape:
        raise ValueError(f'prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ')
    if mask.shape != pred.shape[:2]:
        raise ValueError(f'mask {tuple(mask.shape)} does not match the tokens {tuple(pred.shape[:2])}')
    mask = mask.bool()
    if not mask.any():
        raise ValueError('the mask selects no patch; the MIM loss is undefined')
    return -F.cosine_similarity(pred[mask].float(), target[mask].float(), dim=-1).mean()


def stack_masks(data_samples: Optional[List], batch: int, grid: int) -> torch.Tensor:
    """(B, N) bool masks from data samples carrying ``mask`` ((H, W) array/tensor) fields."""
    if not data_samples:
        raise ValueError('MIM needs data samples with a "mask" field (add '
                         'eva_mm.BlockwiseMaskGenerator and PackInputs(algorithm_keys=["mask"]))')
    masks = []
    for ds in data_samples:
        m = ds.get('mask') if isinstance(ds, dict) else getattr(ds, 'mask', None)
        if m is None:
            raise ValueError('a data sample has no "mask" field (add eva_mm.BlockwiseMaskGenerator '
                             'and PackInputs(algorithm_keys=["mask"]) to the pipeline)')
        masks.append(torch.as_tensor(m).reshape(-1).bool())
    mask = torch.stack(masks)
    if mask.shape != (batch, grid):
        raise ValueError(f'masks {tuple(mask.shape)} do not match the batch and patch grid '
                         f'{(batch, grid)}')
    return mask


@MODELS.register_module()
class EVAMIM(BaseModel):
    """EVA MIM pre-training model (an mmengine ``BaseModel``).

    Args:
        backbone: EVAViT config; ``use_mask_token`` and ``out_type='raw'`` are forced.
        teacher: teacher config (``type='eva_mm.OpenCLIPVisionTeacher'``).
        data_preprocessor: normalises and stacks images (CLIP mean/std for both networks).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 backbone: dict,
                 teacher: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        backbone = dict(backbone, use_mask_token=True, out_type='raw', with_cls_token=True,
                        final_norm=True)
        backbone.setdefault('type', 'eva_mm.EVAViT')
        self.backbone = MODELS.build(backbone)
        self.teacher = MODELS.build(teacher)
        if self.backbone.pos_grid != self.teacher.grid_size:
            raise ValueError(f'student patch grid {self.backbone.pos_grid} and teacher grid '
                             f'{self.teacher.grid_size} differ; choose img_size/patch_size so '
                             f'that every student patch has a teacher target')
        self.lm_head = nn.Linear(self.backbone.embed_dims, self.teacher.embed_dim)
        nn.init.trunc_normal_(self.lm_head.weight, std=.02)
        nn.init.zeros_(self.lm_head.bias)

    def predict_features(self, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W), mask (B, N) -> predictions (B, N, D) for every patch."""
        x = self.backbone(inputs, mask)[0]
        return self.lm_head(x[:, self.backbone.num_prefix_tokens:])

    def loss(self, inputs: torch.Tensor, data_samples: List) -> Dict[str, torch.Tensor]:
        """Negative cosine loss on masked patches; also logs their mean cosine similarity."""
        B = inputs.shape[0]
        grid = self.backbone.pos_grid
        if tuple(inputs.shape[-2:]) != (grid[0] * self.backbone.patch_size,
                                         grid[1] * self.backbone.patch_size):
            raise ValueError(f'MIM input size {tuple(inputs.shape[-2:])} differs from the '
                             f'pre-training size {self.backbone.img_size}')
        mask = stack_masks(data_samples, B, grid[0] * grid[1]).to(inputs.device)
        with torch.no_grad():
            target = self.teacher(inputs)
        pred = self.predict_features(inputs, mask)
        loss = masked_cosine_loss(pred, target, mask)
        return dict(loss=loss, cos_sim=-loss.detach())

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], torch.Tensor, List]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.backbone(inputs)[0]
        if mode == 'predict':
            # validation: the masked-patch cosine similarity of each sample
            B = inputs.shape[0]
            grid = self.backbone.pos_grid
            mask = stack_masks(data_samples, B, grid[0] * grid[1]).to(inputs.device)
            target = self.teacher(inputs)
            pred = self.predict_features(inputs, mask)
            cos = F.cosine_similarity(pred.float(), target, dim=-1)
            out = []
            for i, ds in enumerate(data_samples):
                ds.set_field(cos[i][mask[i]].mean().detach().cpu(), 'mim_cos_sim')
                out.append(ds)
            return out
        raise ValueError(f'invalid mode {mode!r}; use "loss", "predict" or "tensor"')
