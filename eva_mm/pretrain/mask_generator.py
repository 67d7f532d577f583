"""BEiT-style block-wise masking for EVA's masked image modeling (SPEC §2).

Blocks (rectangles of patches) are drawn one after another until the target number of
patches is masked: each block covers at least ``min_num_patches`` patches (area drawn
uniformly in [min, max]), its aspect ratio h/w is drawn log-uniformly in
[min_aspect, 1/min_aspect] (0.3 .. 3.33), and a block is accepted only if it masks at least
one new patch and no more than the patches still missing, so the count never exceeds the
target. After ``max_attempts`` failed draws in a row the generator stops, as BEiT's does
after 10; the count may then fall short of the target.

Unlike BEiT's reference code, whose last blocks shrink below ``min_num_patches`` to fill the
remainder (measured: ~40% of its blocks have < 16 patches at 105/256), every block here keeps
>= ``min_num_patches`` patches and the aspect range *after* rounding; the tail is filled by
blocks that overlap masked patches, so more attempts are allowed (200): at 105 of 16x16 the
mean count is ~104.9 (87% exactly 105, never below 103 in 2000 draws).

The official EVA run masks 105 of the 256 patches of a 16x16 grid (``--num_mask_patches 105``,
~0.41), i.e. it passes an absolute count rather than a ratio; ``mask_ratio=0.4`` alone gives
``int(0.4 * 256) = 102``.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from ..registry import TRANSFORMS

Block = Tuple[int, int, int, int]  # top, left, height, width


@TRANSFORMS.register_module()
class BlockwiseMaskGenerator(BaseTransform):
    """Block-wise [MASK] positions for MIM; also an mmcv/mmpretrain data transform.

    Args:
        input_size: patch grid (H, W) or its side (16 for 224 px with patch 14).
        mask_ratio: fraction of the grid to mask when ``num_masking_patches`` is None.
        num_masking_patches: absolute target count (official EVA run: 105 of 256).
        min_num_patches: smallest block area (EVA: 16).
        max_num_patches: largest block area (None: the target count).
        min_aspect: smallest aspect ratio h/w; the largest is ``1 / min_aspect``.
        seed: if given, masks come from a private generator seeded with it (deterministic);
            otherwise from numpy's global generator (which mmengine seeds per worker).
        max_attempts: failed draws in a row after which the mask is returned as it is.

    As a transform it adds ``results['mask']``: (H, W) bool, True = masked.
    """

    def __init__(self,
                 input_size: Union[int, Sequence[int]] = 16,
                 mask_ratio: float = 0.4,
                 num_masking_patches: Optional[int] = None,
                 min_num_patches: int = 16,
                 max_num_patches: Optional[int] = None,
                 min_aspect: float = 0.3,
                 seed: Optional[int] = None,
                 max_attempts: int = 200) -> None:
        if isinstance(input_size, int):
            input_size = (input_size, input_size)
        if len(input_size) != 2 or min(input_size) <= 0:
            raise ValueError(f'input_size must be a positive int or (H, W), got {input_size}')
        self.height, self.width = int(input_size[0]), int(input_size[1])
        n = self.height * self.width
        if num_masking_patches is None:
            if not 0 < mask_ratio < 1:
                raise ValueError(f'mask_ratio must be in (0, 1), got {mask_ratio}')
            num_masking_patches = int(mask_ratio * n)
        if not 0 < num_masking_patches <= n:
            raise ValueError(f'num_masking_patches must be in [1, {n}], got {num_masking_patches}')
        if not 0 < min_aspect <= 1:
            raise ValueError(f'min_aspect must be in (0, 1], got {min_aspect}')
        self.num_masking_patches = int(num_masking_patches)
        self.min_num_patches = int(min_num_patches)
        self.max_num_patches = int(max_num_patches or self.num_masking_patches)
        if not 0 < self.min_num_patches <= self.max_num_patches:
            raise ValueError(f'need 0 < min_num_patches ({min_num_patches}) <= max_num_patches '
                             f'({self.max_num_patches})')
        if self.min_num_patches > n:
            raise ValueError(f'min_num_patches {min_num_patches} exceeds the grid ({n} patches)')
        self.min_aspect = float(min_aspect)
        self.log_aspect = (math.log(min_aspect), math.log(1 / min_aspect))
        self.max_attempts = max_attempts
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_size=({self.height}, {self.width}), '
                f'num_masking_patches={self.num_masking_patches}, '
                f'min_num_patches={self.min_num_patches}, max_num_patches={self.max_num_patches}, '
                f'min_aspect={self.min_aspect}, seed={self.seed})')

    def _draw_block(self, mask: np.ndarray, remaining: int, rng) -> Optional[Block]:
        """One accepted block (marked into ``mask``), or None after ``max_attempts``."""
        lo = self.min_num_patches
        hi = max(lo, min(remaining, self.max_num_patches))
        for _ in range(self.max_attempts):
            area = rng.uniform(lo, hi)
            aspect = math.exp(rng.uniform(*self.log_aspect))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            # rounding may leave the allowed ranges: reject rather than bend the rules
            if h * w < self.min_num_patches or not self.min_aspect <= h / max(w, 1) <= 1 / self.min_aspect:
                continue
            if h > self.height or w > self.width:
                continue
            top = int(rng.integers(0, self.height - h + 1))
            left = int(rng.integers(0, self.width - w + 1))
            new = h * w - int(mask[top:top + h, left:left + w].sum())
            if 0 < new <= remaining:
                mask[top:top + h, left:left + w] = True
                return top, left, h, w
        return None

    def generate(self, rng=None) -> Tuple[np.ndarray, List[Block]]:
        """(H, W) bool mask and the list of blocks (top, left, h, w) that made it."""
        if rng is None:
            rng = self._rng if self._rng is not None else np.random.default_rng(
                np.random.randint(0, 2**31 - 1))
        mask = np.zeros((self.height, self.width), dtype=bool)
        blocks: List[Block] = []
        count = 0
        while count < self.num_masking_patches:
            before = count
            block = self._draw_block(mask, self.num_masking_patches - count, rng)
            if block is None:
                break
            blocks.append(block)
            count = int(mask.sum())
            assert count > before
        return mask, blocks

    def __call__(self, results: Optional[dict] = None):  # type: ignore[override]
        """As a transform: add ``results['mask']``. Called without arguments: a mask."""
        if results is None:
            return self.generate()[0]
        return self.transform(results)

    def transform(self, results: dict) -> dict:
        results['mask'] = self.generate()[0]
        return results
