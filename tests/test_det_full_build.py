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
    assert round(sum(p.numel() for p in bb.parameters()) / 1e6) == 1011
    assert (len(bb.blocks), bb.embed_dims, bb.patch_size, bb.window_size) == (40, 1408, 16, 16)
    assert [i for i, b in enumerate(bb.blocks) if b.window_size == 0] == list(range(3, 40, 4))
