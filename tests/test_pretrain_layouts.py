"""The paper pre-training configs, run as written on inputs in their official layouts
(``tools/data/make_pretrain_layouts.py``: the merged-30M image folder tree, img2dataset
webdataset shards indexed by ``tools/data/build_laion_index.py``, ImageNet val + meta, and the
two weight files the configs name, tiny and locally initialised), with only the arch shrunk
to those weights and the schedule cut to a few iterations:

- ``eva_mim_clip-l.py``: one epoch (``tools/train.py`` in this process; ``tools/dist_train.sh
  CONFIG 2``: 2 CPU processes, gloo); checkpoint and exported student written, the frozen
  teacher is exactly ``checkpoints/openai_clip_vit-l-14.pth``.
- ``eva_clip_g.py``: 2 iterations and its zero-shot ImageNet validation (1000 classes x 80
  OpenAI templates), single process and 2 processes; the towers start from the MIM-layout
  ``eva_psz14.pt`` and the open_clip text weights.

The one device override: fp16 ``AmpOptimWrapper`` asserts a GPU in mmengine, so on CPU the
runs use the plain ``OptimWrapper`` (as tests/test_video_kinetics_layout.py). DataLoader
workers 10 -> 1 for the 2-core machine.

Also: the zero-shot class embeddings are split over the processes of a distributed run (each
encodes its share of the 80,000 prompts) and equal the single-process ones.
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import List

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.config import Config

from _cli import run_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
from make_pretrain_layouts import TINY_CLIP, apply_tiny_arch  # noqa: E402

CONFIGS = {'mim': 'eva_mim_clip-l.py', 'clip': 'eva_clip_g.py'}
IMAGES = 12  # merged-30M images: 6 iterations of 2 in one process, 3 in each of two

pytestmark = pytest.mark.usefixtures('one_thread', 'unformatted_config_text')  # conftest.py


@pytest.fixture(scope='module')
def layouts(tmp_path_factory) -> str:
    """The official layouts under one folder (the configs' working directory); the LAION
    index is built by the documented command."""
    root = str(tmp_path_factory.mktemp('pretrain_layouts'))
    run_tool(osp.join('data', 'make_pretrain_layouts.py'),
             [root, '--images', str(IMAGES), '--shards', '2', '--samples', '8', '--val', '4',
              '--no-index'])
    laion = osp.join(root, 'data', 'laion400m')
    assert sorted(os.listdir(laion)) == ['00000.tar', '00000_stats.json', '00001.tar',
                                         '00001_stats.json']
    run_tool(osp.join('data', 'build_laion_index.py'), [laion])
    index = json.load(open(osp.join(laion, 'annotations.json')))['data_list']
    assert len(index) == 16 and all(e['img_path'].endswith('.tar') for e in index)
    for kind, name in CONFIGS.items():
        tiny_config(name, kind).dump(osp.join(root, name))
    return root


def tiny_config(name: str, kind: str, cpu_optim: bool = True) -> Config:
    """``configs/pretrain/<name>`` as written except the tiny arch, a few iterations, a log
    line per iteration, one DataLoader worker and (``cpu_optim``; not for the DeepSpeed
    configs, whose strategy holds the precision) the CPU optimiser wrapper."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretrain', name))
    apply_tiny_arch(cfg, kind)
    cfg.train_dataloader.batch_size = 2
    if kind == 'mim':
        cfg.train_cfg.max_epochs = 1
    else:
        cfg.train_cfg.update(max_iters=2, val_interval=2)
        cfg.val_dataloader.num_workers = 1
    cfg.train_dataloader.num_workers = 1
    cfg.default_hooks.logger.interval = 1
    if cpu_optim:
        cfg.optim_wrapper.type = 'OptimWrapper'  # AmpOptimWrapper needs a GPU
        cfg.optim_wrapper.pop('loss_scale')
        cfg.optim_wrapper.pop('dtype')
    return cfg


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _train(root: str, name: str, work_dir: str, procs: int) -> None:
    """``tools/train.py`` in this process (procs=1) or ``tools/dist_train.sh CONFIG procs``."""
    if procs == 1:
        run_tool('train.py', [name, '--work-dir', work_dir])
        return
    env = dict(os.environ, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    r = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), name, str(procs),
                        '--work-dir', work_dir], cwd=root, env=env, capture_output=True,
                       text=True, timeout=400)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    log = glob.glob(osp.join(root, work_dir, '*', '*.log'))
    text = open(log[0]).read() if len(log) == 1 else ''
    assert 'Distributed training: True' in text and f'GPU number: {procs}' in text  # world


def _scalars(work_dir: str) -> List[dict]:
    """The logged records (``vis_data/scalars.json``) of the one run in ``work_dir``."""
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1, files
    return [json.loads(line) for line in open(files[0])]


def _state_dict(path: str) -> dict:
    # an mmengine checkpoint (message hub objects): not weights_only-loadable (docs/pretrain.md)
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


@pytest.mark.parametrize('procs', [1, 2], ids=['train.py', 'dist_train.sh'])
def test_mim_paper_config(layouts, monkeypatch, procs):
    monkeypatch.chdir(layouts)  # data/ and checkpoints/ as the config says
    work = f'work_dirs/mim_{procs}'
    _train(layouts, CONFIGS['mim'], work, procs)
    train = [r for r in _scalars(work) if 'loss' in r]
    # every image once per epoch, split over the processes (DefaultSampler, batch 2)
    assert [r['iter'] for r in train] == list(range(1, IMAGES // (2 * procs) + 1))
    # the loss is the negative masked-patch cosine; mmengine logs it as the mean so far
    # (window 10) and cos_sim as the current value
    cos = np.array([r['cos_sim'] for r in train])
    assert np.isfinite(cos).all() and (np.abs(cos) <= 1).all()
    assert [r['loss'] for r in train] == pytest.approx(list(-np.cumsum(cos) / np.arange(
        1, len(cos) + 1)), abs=1e-6)
    log = open(glob.glob(osp.join(work, '*', '*.log'))[0]).read()
    # an epoch-based loop without persistent workers: a resume repeats the run exactly
    assert 'persistent workers in an epoch-based loop' not in log
    sd = _state_dict(osp.join(work, 'epoch_1.pth'))
    # the frozen teacher is the configured open_clip file, untouched by training
    clip = torch.load('checkpoints/openai_clip_vit-l-14.pth', map_location='cpu')
    teacher = {k[len('teacher.'):]: v for k, v in sd.items() if k.startswith('teacher.')}
    assert teacher and all(torch.equal(v, clip[k]) for k, v in teacher.items())
    assert sd['lm_head.weight'].shape == (TINY_CLIP['embed_dim'], 32)
    student = torch.load(osp.join(work, 'eva_mim_student.pth'), map_location='cpu')
    assert torch.equal(student['state_dict']['backbone.pos_embed'], sd['backbone.pos_embed'])


@pytest.mark.parametrize('procs', [1, 2], ids=['train.py', 'dist_train.sh'])
def test_eva_clip_paper_config(layouts, monkeypatch, procs):
    monkeypatch.chdir(layouts)
    work = f'work_dirs/clip_{procs}'
    _train(layouts, CONFIGS['clip'], work, procs)
    records = _scalars(work)
    train = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in train] == [1, 2]
    assert all(np.isfinite(r['loss']) and r['loss'] > 0 for r in train)
    val = [r for r in records if 'zero_shot/top1' in r]
    assert len(val) == 1  # the one validation, after iteration 2
    top1, top5 = val[0]['zero_shot/top1'], val[0]['zero_shot/top5']
    assert 0 <= top1 <= top5 <= 100 and top5 in (0, 25, 50, 75, 100)  # 4 val images
    sd = _state_dict(osp.join(work, 'iter_2.pth'))
    # the towers started from the configured files (2 warm-up steps of lr <= 1e-6 since)
    mim = torch.load('checkpoints/eva_psz14.pt', map_location='cpu')['model']
    clip = torch.load('checkpoints/openai_clip_vit-l-14.pth', map_location='cpu')
    for key, start in (('visual.patch_embed.proj.weight', mim['patch_embed.proj.weight']),
                       ('visual.blocks.1.mlp.fc2.weight', mim['blocks.1.mlp.fc2.weight']),
                       ('text.token_embedding.weight', clip['token_embedding.weight'])):
        assert (sd[key] - start.float()).abs().max() < 1e-4, key


# -- zero-shot class embeddings split over processes -----------------------------------------
CLASSES = ['red circle', 'blue square', 'green triangle', 'yellow star', 'grey disc']
TEMPLATES = ['a photo of a {}.', 'a {}.']


def _tiny_clip():
    from eva_mm.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='eva_mm.EVACLIP', embed_dim=8,
        vision=dict(arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                              feedforward_channels=32), img_size=16, patch_size=8),
        text_cfg=dict(context_length=12, vocab_size=49408, width=16, heads=2,
                      layers=1))).eval()


def _zero_shot_worker(rank: int, init_file: str, out: str) -> None:
    from eva_mm.pretrain.zero_shot import build_zero_shot_classifier
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    torch.set_num_threads(1)
    model = _tiny_clip()
    encoded = []
    build = model.build_zero_shot_classifier
    model.build_zero_shot_classifier = lambda names, t: encoded.extend(names) or build(names, t)
    w = build_zero_shot_classifier(model, CLASSES, TEMPLATES)
    torch.save(dict(w=w, encoded=encoded), f'{out}.{rank}')
    dist.barrier()
    dist.destroy_process_group()


def test_zero_shot_classifier_split_over_processes(tmp_path):
    out = str(tmp_path / 'w')
    mp.start_processes(_zero_shot_worker, args=(str(tmp_path / 'init'), out), nprocs=2,
                       join=True, start_method='fork')
    want = _tiny_clip().build_zero_shot_classifier(CLASSES, TEMPLATES)
    res = [torch.load(f'{out}.{r}') for r in range(2)]
    assert res[0]['encoded'] == CLASSES[:3] and res[1]['encoded'] == CLASSES[3:]
    for r in res:
        assert r['w'].shape == (8, 5) and torch.allclose(r['w'], want, atol=1e-6)


def test_zero_shot_prompts_are_encoded_without_their_padding():
    """The class embeddings come from the prompts cut after their end-of-text token (OpenAI's
    ImageNet prompts are <= ~20 of the 77 tokens) and equal those of the whole 77-token
    context; a token 0 (the padding id, and also "!" within "!$") inside a prompt is kept."""
    from eva_mm.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='eva_mm.EVACLIP', embed_dim=8,
        vision=dict(arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                              feedforward_channels=32), img_size=16, patch_size=8),
        text_cfg=dict(context_length=77, vocab_size=49408, width=16, heads=2,
                      layers=2))).eval()
    model.text.positional_embedding.data.normal_()  # every position matters
    seen = []
    hook = model.text.transformer.register_forward_pre_hook(
        lambda mod, args: seen.append(args[0].shape[1]))
    templates = ['a photo of a {}.', 'itap of a {}!', 'a {} !$ in a photo']  # "!$": [0, 259]
    w = model.build_zero_shot_classifier(CLASSES[:2], templates)
    hook.remove()
    assert len(seen) == 2 and max(seen) < 20  # not the 77-token context
    tokens = model.tokenize([t.format(c) for c in CLASSES[:2] for t in templates])
    inside = torch.arange(77) < tokens.argmax(-1, keepdim=True)
    assert ((tokens == 0) & inside).any()  # a token 0 inside a prompt
    with torch.no_grad():
        full = model.encode_text(tokens).reshape(2, 3, -1)  # the whole context
    want = torch.nn.functional.normalize(full.mean(1), dim=-1).T
    assert torch.allclose(w, want, atol=1e-5), (w - want).abs().max()
