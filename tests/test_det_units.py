"""Units of eva_mm.det against direct computations: SimpleFPN, LN2d, federated loss,
maskness, Soft-NMS, mask TTA merge."""
import json

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

import eva_mm  # noqa: F401
from eva_mm.det import (DetMaskTTAModel, FederatedLoss, MasknessFCNMaskHead, SimpleFPN,
                        fed_loss_class_weights, get_fed_loss_classes, maskness)
from eva_mm.registry import MODELS


# -- SimpleFPN / LN2d ------------------------------------------------------------------------------
def test_simple_fpn_scales():
    fpn = SimpleFPN(64, [16, 32, 64, 64], 32, num_outs=5)
    outs = fpn((torch.randn(2, 64, 8, 12), ))
    assert [tuple(o.shape) for o in outs] == [(2, 32, 32, 48), (2, 32, 16, 24), (2, 32, 8, 12),
                                              (2, 32, 4, 6), (2, 32, 2, 3)]
    # default norm is eva_mm's channels-first LayerNorm
    assert type(fpn.lateral_convs[0].norm).__name__ == 'LayerNorm2d'


def test_simple_fpn_bad_args():
    with pytest.raises(ValueError, match=r'in_channels must be \[16, 32, 64, 64\]'):
        SimpleFPN(64, [64, 64, 64, 64], 32, num_outs=5)
    with pytest.raises(ValueError, match='num_outs must be >= 4'):
        SimpleFPN(64, [16, 32, 64, 64], 32, num_outs=3)
    fpn = SimpleFPN(64, [16, 32, 64, 64], 32, num_outs=4)
    with pytest.raises(ValueError, match='expects a'):
        fpn((torch.randn(1, 10, 64), ))


def test_ln2d_is_channel_layernorm():
    from mmcv.cnn import build_norm_layer
    _, ln = build_norm_layer(dict(type='eva_mm.LN2d'), 8)
    assert MODELS.get('LN2d') is type(ln)
    with torch.no_grad():
        ln.weight.uniform_()
        ln.bias.uniform_()
    x = torch.randn(2, 8, 5, 3)
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (8, ), ln.weight, ln.bias, ln.eps).permute(0, 3, 1, 2)
    torch.testing.assert_close(ln(x), ref)



def test_roi_features_of_the_simple_fpn_match_torchvision():
    """The pyramid ends in LN2d (non-contiguous maps); mmdet's RoI extractor on it must give
    torchvision's roi_align of the same maps (mmcv's CPU kernel ignored strides: compat fix 7)."""
    from torchvision.ops import roi_align as tv_roi_align
    fpn = SimpleFPN(64, [16, 32, 64, 64], 32, num_outs=5).eval()
    feats = fpn((torch.randn(1, 64, 8, 8), ))
    assert not feats[0].is_contiguous()
    extractor = MODELS.build(dict(
        type='mmdet.SingleRoIExtractor', out_channels=32, featmap_strides=[4, 8, 16, 32],
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0)))
    rois = torch.tensor([[0, 10., 12., 40., 50.], [0, 60., 5., 90., 30.]])  # level 0
    with torch.no_grad():
        got = extractor(feats[:4], rois)
        ref = tv_roi_align(feats[0].contiguous(), rois, 7, 1 / 4, 0, aligned=True)
    torch.testing.assert_close(got, ref)

# -- federated loss --------------------------------------------------------------------------------
def test_fed_loss_classes_sampling():
    K = 100
    weight = torch.arange(K, dtype=torch.float)  # class 0 has weight 0: never sampled
    labels = torch.tensor([5, 5, 17, K, K, 42])
    for seed in range(20):
        torch.manual_seed(seed)
        cls = get_fed_loss_classes(labels, 50, K, weight)
        assert len(cls) == 50 and len(set(cls.tolist())) == 50
        assert {5, 17, 42} <= set(cls.tolist())
        assert 0 not in cls.tolist() and K not in cls.tolist()
    # more present classes than the budget: exactly the present ones
    many = torch.arange(60)
    assert sorted(get_fed_loss_classes(many, 50, K, weight.clamp(min=1)).tolist()) == list(range(60))
    # sampling frequency follows the weights (class 99 drawn far more often than class 1)
    torch.manual_seed(0)
    counts = torch.zeros(K)
    for _ in range(300):
        counts[get_fed_loss_classes(torch.tensor([K]), 5, K, weight)] += 1
    assert counts[0] == 0 and counts[90:].sum() > 5 * counts[1:11].sum()


def test_federated_loss_matches_direct_computation():
    torch.manual_seed(0)
    N, K = 12, 70
    counts = torch.randint(1, 500, (K, )).float()
    loss_mod = FederatedLoss(K, class_freq=counts.tolist(), num_fed_loss_classes=50)
    logits = torch.randn(N, K + 1)
    labels = torch.tensor([3, 3, 10, 69, K, K, K, K, 0, 10, K, K])
    torch.manual_seed(123)
    loss = loss_mod(logits, labels, torch.ones(N), avg_factor=N)
    # direct: same sampled classes (same RNG state), BCE summed over them / N
    torch.manual_seed(123)
    classes = get_fed_loss_classes(labels, 50, K, counts.pow(0.5))
    target = torch.zeros(N, K)
    fg = labels < K
    target[fg.nonzero()[:, 0], labels[fg]] = 1
    ref = F.binary_cross_entropy_with_logits(logits[:, classes], target[:, classes],
                                             reduction='sum') / N
    torch.testing.assert_close(loss, ref)
    # without federation: BCE over all K classes, background logit unused
    plain = FederatedLoss(K, use_fed_loss=False)(logits, labels)
    torch.testing.assert_close(
        plain, F.binary_cross_entropy_with_logits(logits[:, :K], target, reduction='sum') / N)
    # gradient never reaches the background logit nor unsampled classes
    lg = logits.clone().requires_grad_(True)
    torch.manual_seed(123)
    loss_mod(lg, labels).backward()
    untouched = sorted(set(range(K + 1)) - set(classes.tolist()))
    assert lg.grad[:, untouched].abs().sum() == 0
    assert lg.grad[:, classes].abs().sum() > 0


def test_federated_loss_mmdet_hooks_and_errors(tmp_path):
    loss = FederatedLoss(4, use_fed_loss=False)
    assert loss.get_cls_channels(4) == 5
    s = torch.randn(3, 5)
    act = loss.get_activation(s)
    torch.testing.assert_close(act[:, :4], s[:, :4].sigmoid())
    assert (act[:, 4] == 0).all()
    with pytest.raises(ValueError, match='needs class_freq'):
        FederatedLoss(4)
    p = tmp_path / 'lvis.json'
    p.write_text(json.dumps(dict(categories=[dict(id=i + 1, image_count=c)
                                             for i, c in enumerate([4, 9, 16])])))
    torch.testing.assert_close(fed_loss_class_weights(str(p)), torch.tensor([2., 3., 4.]))
    bad = FederatedLoss(4, class_freq=str(p))
    with pytest.raises(ValueError, match='class_freq has 3 classes'):
        bad(torch.randn(2, 5), torch.tensor([0, 4]))
    with pytest.raises(FileNotFoundError, match='not found'):
        FederatedLoss(3, class_freq=str(tmp_path / 'nope.json'))(torch.randn(2, 4),
                                                                  torch.tensor([0, 3]))


def test_bbox_head_with_federated_loss_uses_sigmoid_scores():
    from mmdet.registry import MODELS as DET_MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    head = DET_MODELS.build(dict(
        type='Shared2FCBBoxHead', in_channels=8, fc_out_channels=16, roi_feat_size=7,
        num_classes=6, reg_class_agnostic=True,
        loss_cls=dict(type='eva_mm.FederatedLoss', num_classes=6, class_freq=[1, 2, 3, 4, 5, 6],
                      num_fed_loss_classes=3)))
    assert head.fc_cls.out_features == 7
    cls_score = torch.randn(4, 7)
    rois = torch.tensor([[0, 0, 0, 10, 10]] * 4, dtype=torch.float)
    res = head._predict_by_feat_single(rois, cls_score, torch.zeros(4, 4),
                                       dict(img_shape=(32, 32), scale_factor=(1., 1.)),
                                       rescale=False, rcnn_test_cfg=None)
    torch.testing.assert_close(res.scores[:, :6], cls_score[:, :6].sigmoid())
    losses = head.loss(cls_score, torch.zeros(4, 4), rois, torch.tensor([0, 2, 6, 6]),
                       torch.ones(4), torch.zeros(4, 4), torch.zeros(4, 4))
    assert torch.isfinite(losses['loss_cls']) and 'acc' in losses


# -- maskness ---------------------------------------------------------------------------------------
def test_maskness_function():
    p = torch.tensor([[[0.9, 0.6], [0.2, 0.5]], [[0.1, 0.2], [0.3, 0.4]],
                      [[1.0, 1.0], [1.0, 0.7]]])
    torch.testing.assert_close(maskness(p), torch.tensor([0.75, 0.0, 0.925]))


def test_maskness_head_scales_scores():
    torch.manual_seed(0)
    kw = dict(num_convs=1, in_channels=4, conv_out_channels=4, num_classes=3)
    plain = MasknessFCNMaskHead(**kw)
    calib = MasknessFCNMaskHead(maskness_thr=0.5, **kw)
    calib.load_state_dict(plain.state_dict())
    mask_logits = torch.randn(3, 3, 28, 28) * 3
    labels = torch.tensor([0, 2, 1])
    meta = dict(img_shape=(64, 64), ori_shape=(64, 64), scale_factor=(1., 1.))
    cfg = ConfigDict(mask_thr_binary=0.5)

    def results():
        r = InstanceData()
        r.bboxes = torch.tensor([[0., 0., 30., 30.], [10., 10., 50., 40.], [5., 5., 60., 60.]])
        r.scores = torch.tensor([0.9, 0.6, 0.3])
        r.labels = labels
        return [r]

    ref = plain.predict_by_feat((mask_logits, ), results(), [meta], cfg)[0]
    out = calib.predict_by_feat((mask_logits, ), results(), [meta], cfg)[0]
    probs = mask_logits.sigmoid()[torch.arange(3), labels]
    expect = torch.stack([probs[i][probs[i] > 0.5].mean() for i in range(3)])
    torch.testing.assert_close(out.scores, ref.scores * expect)
    assert torch.equal(out.masks, ref.masks)  # masks themselves are unchanged
    # activate_map (cascade passes already-averaged probabilities)
    out2 = calib.predict_by_feat((mask_logits.sigmoid(), ), results(), [meta], cfg,
                                 activate_map=True)[0]
    torch.testing.assert_close(out2.scores, out.scores)


# -- Soft-NMS ---------------------------------------------------------------------------------------
def test_soft_nms_decays_overlapping_scores():
    from mmdet.models.layers import multiclass_nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 0., 11., 10.], [50., 50., 60., 60.]])
    scores = torch.tensor([[0.9, 0.0], [0.8, 0.0], [0.7, 0.0]])
    scores = torch.cat([scores, torch.zeros(3, 1)], 1)  # + background column
    iou = 90. / 110.
    hard, _ = multiclass_nms(boxes, scores, 0.05, dict(type='nms', iou_threshold=0.5))
    soft, _ = multiclass_nms(boxes, scores, 0.05,
                             dict(type='soft_nms', iou_threshold=0.5, min_score=0.05))
    assert len(hard) == 2  # the overlapping box is removed
    assert len(soft) == 3  # ... but only decayed by Soft-NMS (linear: s * (1 - IoU))
    got = sorted(soft[:, -1].tolist(), reverse=True)
    torch.testing.assert_close(torch.tensor(got), torch.tensor([0.9, 0.7, 0.8 * (1 - iou)]),
                               atol=1e-4, rtol=1e-4)


# -- mask TTA merge -------------------------------------------------------------------------------
def test_mask_tta_merge_unflips_masks():
    from mmdet.structures import DetDataSample
    class Detector(torch.nn.Module):  # merging needs no model, only its test_step
        def test_step(self, data):
            raise NotImplementedError

    tta = DetMaskTTAModel(module=Detector(),
                          tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=10))
    H, W = 8, 12
    mask = torch.zeros(1, H, W, dtype=torch.bool)
    mask[0, 2:5, 1:4] = True
    views = []
    for flip in (False, True):
        ds = DetDataSample(metainfo=dict(ori_shape=(H, W), flip=flip,
                                         flip_direction='horizontal' if flip else None))
        p = InstanceData()
        p.bboxes = torch.tensor([[1., 2., 4., 5.]])
        if flip:
            p.bboxes = torch.tensor([[W - 4., 2., W - 1., 5.]])
        p.scores = torch.tensor([0.9 if flip else 0.8])
        p.labels = torch.tensor([0])
        p.masks = mask.flip(-1) if flip else mask
        ds.pred_instances = p
        views.append(ds)
    merged = tta._merge_single_sample(views).pred_instances
    assert len(merged) == 1  # duplicates of the same object merged by NMS
    torch.testing.assert_close(merged.bboxes, torch.tensor([[1., 2., 4., 5.]]))
    assert merged.scores.item() == pytest.approx(0.9)
    assert torch.equal(merged.masks[0], mask[0])  # the flipped view's mask, un-flipped
