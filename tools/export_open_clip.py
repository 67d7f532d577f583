"""Export a trained eva_mm EVA-CLIP checkpoint to open_clip and check the round trip.

    python tools/export_open_clip.py CONFIG CHECKPOINT OUT_DIR [--name eva-clip-tiny]

Writes OUT_DIR/NAME.json (open_clip model config, timm ``Eva`` image tower) and OUT_DIR/NAME.pt
(state dict), then loads them with ``open_clip.create_model`` (strict) and prints the largest
difference between eva_mm's and open_clip's image and text embeddings on random inputs.
Loading elsewhere::

    from eva_mm.pretrain import load_exported
    clip = load_exported('OUT_DIR/NAME.json', 'OUT_DIR/NAME.pt')
"""
import argparse

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import eva_mm  # noqa: F401
from eva_mm.models.checkpoint import read_checkpoint, unwrap_checkpoint
from eva_mm.pretrain import export_open_clip, load_exported
from eva_mm.registry import MODELS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('out_dir')
    p.add_argument('--name', default='eva-clip')
    a = p.parse_args()
    cfg = Config.fromfile(a.config)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = cfg.model
    model_cfg.vision.init_cfg = None  # the weights come from the checkpoint
    model = MODELS.build(model_cfg)
    if model_cfg.type != 'eva_mm.EVACLIP':
        raise SystemExit(f'{a.config} is not an EVA-CLIP config (model type {model_cfg.type})')
    sd = unwrap_checkpoint(read_checkpoint(a.checkpoint))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith('attn_mask')]
    if missing or unexpected:
        raise SystemExit(f'{a.checkpoint} does not match {a.config}: missing {missing[:8]}, '
                         f'unexpected {unexpected[:8]}')
    model.eval()
    cfg_path, weights = export_open_clip(model, a.out_dir, a.name)
    print(f'[export_open_clip] wrote {cfg_path} and {weights}', flush=True)
    clip = load_exported(cfg_path, weights).eval()
    size = model.visual.img_size
    x = torch.randn(2, 3, *size)
    texts = model.tokenize(['a photo of a cat', 'a red circle'])
    with torch.no_grad():
        di = (model.encode_image(x) - clip.encode_image(x, normalize=True)).abs().max().item()
        dt = (model.encode_text(texts) - clip.encode_text(texts, normalize=True)).abs().max().item()
    print(f'[export_open_clip] open_clip round trip: max |image diff| {di:.2e}, '
          f'max |text diff| {dt:.2e}', flush=True)
    if max(di, dt) > 1e-4:
        raise SystemExit('open_clip outputs differ from eva_mm outputs')


if __name__ == '__main__':
    main()
