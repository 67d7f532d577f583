"""The three paper detection configs build the full EVA-g Cascade Mask R-CNN (meta device,
no memory): 40 blocks at patch 16, window 16, global attention in blocks 3, 7, ..., 39."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

CFG_DIR = Path(__file__).resolve().parents[1] / 'configs' / 'det'


@pytest.mark.parametrize('name', ['eva_cmrcnn_o365', 'eva_cmrcnn_coco', 'eva_cmrcnn_lvis'])
def test_paper_config_builds_full_eva_g_detector(name):
    from mmdet.registry import MODELS
    cfg = Config.fromfile(str(CFG_DIR / f'{name}.py'))
    init_default_scope('mmdet')
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    bb = model.backbone
    assert type(model).__name__ == 'CascadeRCNN' and len(model.roi_head.bbox_head) == 3
    rel = {n: p for n, p in bb.named_parameters() if '.rel_pos_' in n}
    # EVAViT('g') has 1,011,146,112; the detector's: patch 16 (+253,440), 14x14 grid
    # (-84,480), no cls token (-1,408), no final norm (-2,816); plus the rel-pos tables
    assert sum(p.numel() for n, p in bb.named_parameters() if n not in rel) == 1_011_310_848
    assert (len(bb.blocks), bb.embed_dims, bb.patch_size, bb.window_size) == (40, 1408, 16, 16)
    glob = list(range(3, 40, 4))
    assert [i for i, b in enumerate(bb.blocks) if b.window_size == 0] == glob
    # the released checkpoints' table shapes: 31 rows in window blocks, 2 * size / 16 - 1 in
    # the global ones (Objects365 1024 -> 127, COCO/LVIS 1280 -> 159); 14x14 position grid
    rows = 127 if 'o365' in name else 159
    for i, b in enumerate(bb.blocks):
        assert b.attn.rel_pos_h.shape == b.attn.rel_pos_w.shape == ((rows if i in glob else 31), 88)
    assert bb.pos_embed.shape == (1, 197, 1408)
    assert not any(p.requires_grad for p in bb.patch_embed.parameters())
