"""Released EVA-01 image classifiers (``eva_21k_224px_psz14.pt``,
``eva_21k_1k_336px_psz14_ema_89p6.pt``, ``eva_21k_1k_560px_psz14_ema_89p7.pt``: the ViT with
``fc_norm`` and a linear ``head``) -> mmpretrain ``ImageClassifier`` keys (``backbone.*`` +
``head.fc.*``), registered as the whole-model layout ``'eva01_cls'`` so the CLI, ``load_from``
and ``tools/test.py`` keep the classification head (a backbone-only conversion drops it)."""
from typing import Dict, Tuple

import torch

from ..models.checkpoint import ConversionReport, convert_state_dict, register_model_layout

StateDict = Dict[str, torch.Tensor]


def is_eva01_classifier(sd: StateDict) -> bool:
    """An official fine-tuned 2-D classifier: unprefixed ViT keys, ``fc_norm`` and ``head``
    (a 4-d patch kernel: the video models have a 5-d one and their own layout)."""
    w = sd.get('patch_embed.proj.weight')
    return (w is not None and w.dim() == 4 and 'fc_norm.weight' in sd and 'head.weight' in sd
            and 'lm_head.weight' not in sd)


def convert_eva01_classifier(sd: StateDict) -> Tuple[StateDict, ConversionReport]:
    """ViT keys through the backbone converter, ``head.{weight,bias}`` -> ``head.fc.*``."""
    vit, report = convert_state_dict(sd)
    out = {f'backbone.{k}': v for k, v in vit.items()}
    for p in ('weight', 'bias'):
        if f'head.{p}' in sd:
            out[f'head.fc.{p}'] = sd[f'head.{p}']
            report.dropped.pop(f'head.{p}', None)
    report.notes.append(f"classification head: {tuple(sd['head.weight'].shape)} -> head.fc")
    return out, report


register_model_layout('eva01_cls', is_eva01_classifier, convert_eva01_classifier)

__all__ = ['convert_eva01_classifier', 'is_eva01_classifier']
