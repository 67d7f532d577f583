"""BlockwiseMaskGenerator: statistics over many draws, determinism, transform use, errors."""
import numpy as np
import pytest

from eva_mm.pretrain import BlockwiseMaskGenerator
from eva_mm.registry import TRANSFORMS


def test_official_setting_statistics():
    """105 of 16x16 (the official EVA run), blocks >= 16 patches, aspect in [0.3, 1/0.3]."""
    gen = BlockwiseMaskGenerator(16, num_masking_patches=105, min_num_patches=16, seed=0)
    counts, areas, aspects, rows, cols = [], [], [], [], []
    for _ in range(500):
        mask, blocks = gen.generate()
        assert mask.shape == (16, 16) and mask.dtype == bool
        # the union of the recorded blocks is exactly the mask
        union = np.zeros_like(mask)
        for top, left, h, w in blocks:
            union[top:top + h, left:left + w] = True
            areas.append(h * w)
            aspects.append(h / w)
        assert (union == mask).all()
        counts.append(int(mask.sum()))
        rows.append(mask.any(1).sum())
        cols.append(mask.any(0).sum())
    counts = np.array(counts)
    assert counts.max() <= 105  # never more than the target
    assert counts.mean() >= 104.0, counts.mean()  # measured ~104.9
    assert (counts == 105).mean() >= 0.7
    assert counts.min() >= 100
    assert min(areas) >= 16
    assert 0.3 - 1e-9 <= min(aspects) and max(aspects) <= 1 / 0.3 + 1e-9
    # blocks, not scattered patches: far fewer blocks than masked patches
    assert np.mean([len(gen.generate()[1]) for _ in range(50)]) < 105 / 8
    # both elongated directions occur
    assert min(aspects) < 0.5 and max(aspects) > 2.0


def test_ratio_gives_int_count():
    assert BlockwiseMaskGenerator(16, mask_ratio=0.4).num_masking_patches == 102  # int(102.4)
    assert BlockwiseMaskGenerator((14, 14), mask_ratio=0.4).num_masking_patches == 78


def test_deterministic_under_seed():
    a = BlockwiseMaskGenerator(16, num_masking_patches=105, seed=123)
    b = BlockwiseMaskGenerator(16, num_masking_patches=105, seed=123)
    c = BlockwiseMaskGenerator(16, num_masking_patches=105, seed=124)
    ma = [a() for _ in range(20)]
    mb = [b() for _ in range(20)]
    mc = [c() for _ in range(20)]
    assert all((x == y).all() for x, y in zip(ma, mb))
    assert any((x != y).any() for x, y in zip(ma, mc))
    # successive masks differ
    assert any((ma[0] != m).any() for m in ma[1:])


def test_global_seed_used_without_seed():
    gen = BlockwiseMaskGenerator(16, num_masking_patches=105)
    np.random.seed(7)
    m1 = gen()
    np.random.seed(7)
    m2 = gen()
    assert (m1 == m2).all()


def test_as_registered_transform():
    t = TRANSFORMS.build(dict(type='eva_mm.BlockwiseMaskGenerator', input_size=6,
                              num_masking_patches=14, min_num_patches=4, seed=0))
    out = t(dict(img=np.zeros((48, 48, 3), np.uint8)))
    assert out['mask'].shape == (6, 6) and 10 <= out['mask'].sum() <= 14
    assert 'BlockwiseMaskGenerator' in repr(t)


@pytest.mark.parametrize('kwargs, msg', [
    (dict(input_size=0), 'input_size'),
    (dict(mask_ratio=1.5), 'mask_ratio'),
    (dict(num_masking_patches=300), 'num_masking_patches'),
    (dict(min_aspect=2.0), 'min_aspect'),
    (dict(min_num_patches=200, num_masking_patches=105), 'min_num_patches'),
])
def test_bad_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        BlockwiseMaskGenerator(**dict(dict(input_size=16), **kwargs))
