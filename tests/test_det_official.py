"""The released-detector path against the official EVA-01 detector's own outputs.

``../shared/reference/eva01_det/`` holds a tiny Cascade Mask R-CNN made by the official EVA-01
detectron2 code (the released checkpoints' key layout, random weights) and that code's outputs
on two images in two scenarios: ``cfg`` (the 1280 config, here at 256) and ``eval`` (the 1536
protocol with Soft-NMS + maskness, here at 320). The checkpoint is converted by the CLI's main and
loaded strictly into eva_mm's detector built from the paper configs (only the sizes shrunk as
the reference's README lists), then every stage is compared.
"""
import contextlib
import importlib.util
import io
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

import eva_mm  # noqa: F401
from eva_mm.det.testing import official_tiny_cfg

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
REF = os.environ.get('EVA_MM_REFERENCE',
                     osp.join(osp.dirname(ROOT), 'shared', 'reference')) + '/eva01_det'
CKPT = osp.join(REF, 'official_tiny_coco.pth')
OUTS = osp.join(REF, 'official_tiny_coco_outputs.pt')

def tiny_official_cfg(path: str, size: int) -> Config:
    return official_tiny_cfg(Config.fromfile(osp.join(ROOT, path)), size)


SCENARIOS = {  # scenario -> (paper config, square size); both tested at the reference's sizes
    'cfg': ('configs/det/eva_cmrcnn_coco.py', 256),
    'eval': ('configs/det/eva_cmrcnn_coco_1536_mask.py', 320),
}


@pytest.fixture(scope='module')
def ref():
    if not osp.isfile(OUTS):
        pytest.fail(f'official reference outputs not found at {OUTS} (set EVA_MM_REFERENCE)')
    return torch.load(OUTS, weights_only=True)


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """The reference checkpoint converted by the CLI."""
    dst = str(tmp_path_factory.mktemp('det_official') / 'tiny_coco_eva_mm.pth')
    spec = importlib.util.spec_from_file_location(
        'eva_to_eva_mm', osp.join(ROOT, 'tools', 'model_converters', 'eva_to_eva_mm.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main([CKPT, dst]) == 0
    assert 'layout: detectron2 (whole model)' in out.getvalue(), out.getvalue()
    return torch.load(dst, weights_only=True)['state_dict']


def _build(scenario: str, state_dict: dict):
    path, size = SCENARIOS[scenario]
    cfg = tiny_official_cfg(path, size)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    missing, unexpected = model.load_state_dict(state_dict, strict=True)
    assert not missing and not unexpected
    return model.eval(), cfg


def _inputs(cfg: Config, rec: dict, tmp_path) -> dict:
    """The reference's raw image through the config's own test pipeline (from a PNG file)."""
    f = str(tmp_path / 'img.png')
    cv2.imwrite(f, rec['raw_image_rgb_uint8'].numpy()[..., ::-1])
    pipe = Compose([t for t in cfg.test_dataloader.dataset.pipeline
                    if t['type'] != 'LoadAnnotations'])
    data = pipe(dict(img_path=f, img_id=0))
    return pseudo_collate([data])


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp(min=1e-12))


@pytest.fixture(scope='module', params=list(SCENARIOS))
def run(request, ref, converted, tmp_path_factory):
    """eva_mm's outputs at every stage for both reference images of one scenario."""
    scenario = request.param
    model, cfg = _build(scenario, converted)
    outs = []
    recs = ref['scenarios'][scenario]['images']
    for rec in recs:
        data = model.data_preprocessor(_inputs(cfg, rec, tmp_path_factory.mktemp('img')), False)
        x, samples = data['inputs'], data['data_samples']
        with torch.no_grad():
            vit = model.backbone(x)[0]
            feats = model.neck((vit, ))
            props = model.rpn_head.predict(feats, samples, rescale=False)[0]
            stages = []
            for k in range(3):
                rois = torch.cat([rec['stages'][k]['input_boxes_top50'].new_zeros(50, 1),
                                  rec['stages'][k]['input_boxes_top50']], 1)
                r = model.roi_head._bbox_forward(k, feats, rois)
                stages.append((r['cls_score'], r['bbox_pred']))
            final = model.predict(x, samples, rescale=True)[0].pred_instances
        outs.append(dict(x=x, vit=vit, feats=feats, props=props, stages=stages, final=final,
                         samples=samples))
    return scenario, outs, recs


def test_converted_checkpoint_loads_strictly(converted):
    """Every official key is placed (strict load in _build) and nothing is invented."""
    n_official = len(torch.load(CKPT, weights_only=True)['model'])
    assert len(converted) == n_official  # the COCO model has no training-only buffer


def test_preprocessing_matches(run):
    _, outs, recs = run
    for o, rec in zip(outs, recs):
        assert tuple(o['samples'][0].img_shape) == tuple(rec['image_size_after_resize'])
        torch.testing.assert_close(o['x'], rec['backbone_input'], atol=1e-5, rtol=0)


def test_backbone_and_pyramid_match(run):
    _, outs, recs = run
    for o, rec in zip(outs, recs):
        assert _rel(o['vit'], rec['last_feat']) < 1e-4
        for lvl, f in zip(['p2', 'p3', 'p4', 'p5', 'p6'], o['feats']):
            assert _rel(f, rec['fpn'][lvl]) < 1e-4, lvl


def test_rpn_proposals_match(run):
    _, outs, recs = run
    for o, rec in zip(outs, recs):
        ref_boxes = rec['rpn_proposals']['boxes']
        assert len(o['props']) == len(ref_boxes)
        # the whole set (near-equal logits may swap places further down the ranking; a tiny
        # box's IoU is sensitive to float-level coordinate differences)
        best = bbox_overlaps(ref_boxes, o['props'].bboxes).max(1).values
        assert (best > 0.999).float().mean() >= 0.995 and best.min() > 0.99, best.min()
        torch.testing.assert_close(o['props'].bboxes[:50], rec['rpn_proposals_top50']['boxes'],
                                   atol=1e-3, rtol=0)
        torch.testing.assert_close(torch.logit(o['props'].scores[:50].double()).float(),
                                   rec['rpn_proposals_top50']['objectness_logits'],
                                   atol=1e-3, rtol=0)


def test_cascade_stages_match(run):
    _, outs, recs = run
    for o, rec in zip(outs, recs):
        for k, (cls, deltas) in enumerate(o['stages']):
            torch.testing.assert_close(cls, rec['stages'][k]['cls_logits_top50'],
                                       atol=2e-3, rtol=1e-4)
            torch.testing.assert_close(deltas, rec['stages'][k]['box_deltas_top50'],
                                       atol=2e-3, rtol=1e-4)


def _match(fin, ref: dict) -> torch.Tensor:
    """Index of our detection matching each official one: same class, highest box IoU."""
    iou = bbox_overlaps(ref['boxes'], fin.bboxes)
    iou[ref['classes'][:, None] != fin.labels[None]] = 0
    best, idx = iou.max(1)
    assert best.min() > 0.999, float(best.min())
    assert len(set(idx.tolist())) == len(idx)  # one to one
    return idx


def test_final_detections_match(run):
    """The same detections (count; one-to-one by class and box; scores; boxes; order up to
    near-ties of the Soft-NMS pick order) and the same pasted masks."""
    scenario, outs, recs = run
    for o, rec in zip(outs, recs):
        ref = rec['instances_final']
        fin = o['final']
        assert len(fin) == len(ref['scores']), (scenario, len(fin), len(ref['scores']))
        idx = _match(fin, ref)
        shift = (idx - torch.arange(len(idx))).abs().max()
        assert shift == 0 if scenario == 'cfg' else shift <= 8, shift
        torch.testing.assert_close(fin.scores[idx], ref['scores'], atol=2e-4, rtol=0)
        torch.testing.assert_close(fin.bboxes[idx], ref['boxes'], atol=0.05, rtol=0)
        n = ref['masks_packbits'].shape[0]
        W0 = rec['orig_size_hw'][1]
        ref_masks = np.unpackbits(ref['masks_packbits'].numpy(), axis=-1, count=W0).astype(bool)
        ours = fin.masks[idx[:n]].numpy()
        assert ours.shape == ref_masks.shape
        # float-level box differences flip a few pixels on mask borders (probabilities at 0.5)
        diff = (ours != ref_masks).sum(axis=(1, 2))
        area = np.maximum(ref_masks.sum(axis=(1, 2)), 1)
        assert (diff <= np.maximum(2, 0.02 * area)).all(), (diff.max(), area[diff.argmax()])
        assert diff.sum() <= 1e-3 * area.sum()


def test_coco_box_protocol_has_no_maskness(ref, converted, tmp_path):
    """eva_cmrcnn_coco_1536.py (the eva_coco_det command): the same detections with the
    scores before maskness (boxes only, one image)."""
    cfg = tiny_official_cfg('configs/det/eva_cmrcnn_coco_1536.py', 320)
    assert cfg.model.roi_head.mask_head.maskness_thr is None
    cfg.model.roi_head.mask_head = None
    cfg.model.roi_head.mask_roi_extractor = None
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict({k: v for k, v in converted.items() if '.mask_head.' not in k})
    rec = ref['scenarios']['eval']['images'][1]
    data = model.data_preprocessor(_inputs(cfg, rec, tmp_path), False)
    with torch.no_grad():
        fin = model.predict(data['inputs'], data['data_samples'], rescale=True)[0].pred_instances
    want = dict(rec['instances_final'], scores=rec['scores_before_maskness'])
    assert len(fin) == len(want['scores'])
    idx = _match(fin, want)
    torch.testing.assert_close(fin.scores[idx], want['scores'], atol=2e-4, rtol=0)


def test_detector_checkpoint_loads_as_backbone_weights():
    """``EVAViT(init_cfg=dict(type='Pretrained', checkpoint=<detector>))`` takes the ViT of a
    released detectron2 detector (``backbone.net.*``) and nothing else."""
    from eva_mm.models import EVAViT
    from eva_mm.models.checkpoint import detect_layout, read_checkpoint, unwrap_checkpoint
    sd = unwrap_checkpoint(read_checkpoint(CKPT))
    assert detect_layout(sd) == ('detectron2', 'backbone.net.')
    vit = EVAViT(arch=dict(embed_dims=192, num_layers=8, num_heads=3, feedforward_channels=837),
                 img_size=224, patch_size=16, out_type='featmap', with_cls_token=False,
                 final_norm=False, window_size=16, window_block_indexes=[0, 1, 2, 4, 5, 6],
                 use_rel_pos=True, rel_pos_img_size=256,
                 init_cfg=dict(type='Pretrained', checkpoint=CKPT))
    vit.init_weights()
    own = vit.state_dict()
    assert set(own) == {k[len('backbone.net.'):] for k in sd if k.startswith('backbone.net.')}
    for k, v in own.items():
        assert torch.equal(v, sd['backbone.net.' + k]), k
