"""EVA MIM: masked-only loss, frozen teacher, teacher targets = CLIP tokens after ln_post @ proj,
and a short training loop in which the loss falls."""
import pytest
import torch
from mmengine.structures import BaseDataElement

from eva_mm.pretrain import BlockwiseMaskGenerator, masked_cosine_loss
from eva_mm.registry import MODELS

TINY_ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
TEACHER = dict(type='eva_mm.OpenCLIPVisionTeacher',
               model_cfg=dict(embed_dim=24, vision_cfg=dict(image_size=48, patch_size=8,
                                                            width=32, layers=2, head_width=16)))


def build_mim(**kw):
    torch.manual_seed(0)
    return MODELS.build(dict(type='eva_mm.EVAMIM',
                             backbone=dict(arch=TINY_ARCH, img_size=48, patch_size=8, **kw),
                             teacher=TEACHER))


def masks(n, seed=0):
    gen = BlockwiseMaskGenerator(6, num_masking_patches=14, min_num_patches=4, seed=seed)
    return [BaseDataElement(mask=gen()) for _ in range(n)]


def test_loss_uses_masked_patches_only():
    torch.manual_seed(0)
    pred, target = torch.randn(2, 36, 8), torch.randn(2, 36, 8)
    mask = torch.zeros(2, 36, dtype=torch.bool)
    mask[0, :5] = True
    mask[1, 10:20] = True
    loss = masked_cosine_loss(pred, target, mask)
    changed = pred.clone()
    changed[~mask] = torch.randn(int((~mask).sum()), 8) * 100
    assert torch.equal(masked_cosine_loss(changed, target, mask), loss)
    changed[mask] += torch.randn(int(mask.sum()), 8)
    assert not torch.allclose(masked_cosine_loss(changed, target, mask), loss)
    # equals the direct computation
    cos = torch.nn.functional.cosine_similarity(pred, target, dim=-1)
    assert torch.allclose(loss, -cos[mask].mean())
    assert torch.allclose(masked_cosine_loss(target, target, mask), torch.tensor(-1.0))


def test_loss_gradient_only_through_masked_predictions():
    pred = torch.randn(1, 36, 8, requires_grad=True)
    mask = torch.zeros(1, 36, dtype=torch.bool)
    mask[0, 3:9] = True
    masked_cosine_loss(pred, torch.randn(1, 36, 8), mask).backward()
    assert (pred.grad[~mask] == 0).all() and (pred.grad[mask].abs().sum(-1) > 0).all()


def test_loss_errors():
    with pytest.raises(ValueError, match='selects no patch'):
        masked_cosine_loss(torch.ones(1, 4, 2), torch.ones(1, 4, 2), torch.zeros(1, 4).bool())
    with pytest.raises(ValueError, match='mask'):
        masked_cosine_loss(torch.ones(1, 4, 2), torch.ones(1, 4, 2), torch.ones(1, 5).bool())


def test_teacher_targets_are_clip_tokens_after_ln_post_and_proj():
    model = build_mim()
    x = torch.randn(2, 3, 48, 48)
    visual = model.teacher.visual
    tokens = visual.ln_post(visual.transformer(visual._embeds(x)))
    expected = (tokens @ visual.proj)[:, 1:]
    assert torch.allclose(model.teacher(x), expected, atol=1e-6)
    # open_clip's own pooled output = the cls token after ln_post @ proj
    assert torch.allclose(visual(x), (tokens @ visual.proj)[:, 0], atol=1e-5)
    assert model.teacher(x).shape == (2, 36, 24)


def test_teacher_frozen_and_gets_no_gradient():
    model = build_mim()
    model.train()
    assert not model.teacher.training
    assert all(not p.requires_grad for p in model.teacher.parameters())
    x = torch.randn(2, 3, 48, 48)
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    losses = model(x, masks(2), mode='loss')
    losses['loss'].backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert model.backbone.mask_token.grad is not None and model.backbone.mask_token.grad.abs().sum() > 0
    assert model.lm_head.weight.grad is not None
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0).step()
    after = model.teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.allclose(losses['cos_sim'], -losses['loss'])


def test_student_sees_mask_tokens():
    """Masked patch content does not reach the student; unmasked content does."""
    model = build_mim().eval()
    x = torch.randn(1, 3, 48, 48)
    ds = masks(1)
    m = torch.as_tensor(ds[0].mask).reshape(-1)
    mask = m[None]
    y = x.clone()
    # change the pixels of one masked patch: the student output does not change
    idx = int(m.nonzero()[0])
    r, c = divmod(idx, 6)
    y[..., r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] += 5
    with torch.no_grad():
        assert torch.allclose(model.predict_features(x, mask), model.predict_features(y, mask),
                              atol=1e-5)
        idx_u = int((~m).nonzero()[0])
        r, c = divmod(idx_u, 6)
        y[..., r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] += 5
        assert not torch.allclose(model.predict_features(x, mask), model.predict_features(y, mask),
                                  atol=1e-5)


def test_mim_errors():
    model = build_mim()
    with pytest.raises(ValueError, match='mask'):
        model(torch.randn(1, 3, 48, 48), [BaseDataElement()], mode='loss')
    with pytest.raises(ValueError, match='input size'):
        model(torch.randn(1, 3, 56, 56), masks(1), mode='loss')
    with pytest.raises(ValueError, match='grid'):
        MODELS.build(dict(type='eva_mm.EVAMIM', backbone=dict(arch=TINY_ARCH, img_size=56,
                                                              patch_size=8), teacher=TEACHER))
    with pytest.raises(ValueError, match='exactly one'):
        MODELS.build(dict(type='eva_mm.OpenCLIPVisionTeacher'))


def test_short_training_loss_falls():
    """20 AdamW steps on a fixed batch of smooth random images: the masked-patch cosine rises."""
    model = build_mim()
    model.train()
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.interpolate(torch.randn(8, 3, 6, 6, generator=g), size=48,
                                        mode='bilinear', align_corners=False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    losses = []
    for step in range(20):
        out = model(x, masks(8, seed=step), mode='loss')
        opt.zero_grad()
        out['loss'].backward()
        opt.step()
        losses.append(out['loss'].item())
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first - 0.2, (first, last)


def test_export_student_hook_writes_weights_only_student(tmp_path):
    """The student file loads with weights_only=True and initialises an EVAViT exactly."""
    from types import SimpleNamespace

    from mmengine.logging import MMLogger

    from eva_mm.models.checkpoint import read_checkpoint
    from eva_mm.pretrain import ExportStudentHook
    model = build_mim()
    runner = SimpleNamespace(model=SimpleNamespace(module=model), work_dir=str(tmp_path),
                             logger=MMLogger.get_instance('test_pretrain_hook'))
    ExportStudentHook('student.pth').after_train(runner)
    sd = read_checkpoint(str(tmp_path / 'student.pth'))['state_dict']
    assert set(sd) == {f'backbone.{k}' for k in model.backbone.state_dict()}
    vit = MODELS.build(dict(type='eva_mm.EVAViT', arch=TINY_ARCH, img_size=48, patch_size=8,
                            init_cfg=dict(type='Pretrained',
                                          checkpoint=str(tmp_path / 'student.pth'))))
    vit.init_weights()
    for k, v in vit.state_dict().items():
        assert torch.equal(v, model.backbone.state_dict()[k]), k
    with pytest.raises(TypeError, match='backbone'):
        ExportStudentHook().after_train(SimpleNamespace(model=torch.nn.Linear(1, 1)))


def test_teacher_checkpoint_is_read_by_init_weights(tmp_path):
    """A whole open_clip CLIP state dict (visual.* + text keys, the layout of the paper's
    checkpoints/openai_clip_vit-l-14.pth) is not read at build (so the weights check runs
    first) and is loaded exactly by the model's init_weights, as the runner calls it."""
    import open_clip
    cfg = TEACHER['model_cfg']
    torch.manual_seed(1)
    clip = open_clip.CLIP(cfg['embed_dim'], cfg['vision_cfg'],
                          dict(context_length=8, vocab_size=100, width=16, heads=2, layers=1))
    torch.save(clip.state_dict(), tmp_path / 'clip.pth')
    teacher = dict(TEACHER, checkpoint=str(tmp_path / 'clip.pth'))
    model = MODELS.build(dict(type='eva_mm.EVAMIM', teacher=teacher,
                              backbone=dict(arch=TINY_ARCH, img_size=48, patch_size=8)))
    want = clip.visual.state_dict()
    assert not torch.equal(model.teacher.visual.proj, want['proj'])
    model.init_weights()
    got = model.teacher.visual.state_dict()
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
    assert all(not p.requires_grad for p in model.teacher.parameters())
    bad = MODELS.build(dict(teacher, checkpoint=str(tmp_path / 'missing.pth')))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        bad.init_weights()
