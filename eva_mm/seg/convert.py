"""Released EVA-01 segmenters (mmseg 0.x + ViT-Adapter + Mask2Former, official code in
``EVA-01/seg``: ``eva_sem_seg_mask2former_cocostuff_53p4.pth``,
``eva_sem_seg_mask2former_ade_ss61p5_ms62p3.pth``) -> eva_mm's mmseg 1.x ``EncoderDecoder``
(``eva_mm.EVAAdapter`` + ``eva_mm.Mask2FormerHead``, i.e. mmseg's Mask2Former).

Registered as the whole-model layout ``'eva01_seg'`` of :mod:`eva_mm.models.checkpoint`, so
``tools/model_converters/eva_to_eva_mm.py`` and ``load_from`` (``ConvertCheckpointHook``)
share it. Every key is renamed by one of the rules below; a key no rule places is an error
naming it. No tensor is changed.

What the renaming encodes:

* the official backbone ``BEiTAdapter`` *is* the ViT (``cls_token``, ``pos_embed``,
  ``patch_embed``, ``blocks.N.*``, the same names as EVAViT) with the adapter attached;
  eva_mm's ``EVAAdapter`` holds the ViT as ``backbone.vit``;
* ``interactions.K`` (injector, extractor, ``extra_extractors``) -> ``stages.K``; the four
  output norms ``norm1..4`` -> ``out_norms.0..3``; ``spm``, ``level_embed``, ``up`` and
  every name inside injector / extractor / spatial prior module are the same;
* mmcv 1.x transformer layers name their sub-modules by position in ``operation_order``:
  pixel-decoder encoder ``attentions.0`` = self-attention, ``ffns.0`` = FFN; transformer
  decoder (order ``cross_attn, norm, self_attn, norm, ffn, norm``) ``attentions.0`` =
  **cross**-attention, ``attentions.1`` = self-attention. mmdet 3.x names them
  ``self_attn`` / ``cross_attn`` / ``ffn``; ``norms.i`` keep their indices (same order).
"""
import re
from typing import Dict, List, Tuple

import torch

from ..models.checkpoint import CheckpointError, ConversionReport, register_model_layout

StateDict = Dict[str, torch.Tensor]

_W = r'(weight|bias)'
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
_MSDA = rf'(sampling_offsets|attention_weights|value_proj|output_proj)\.{_W}'
_MHA = r'attn\.(in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)'
_FFN = rf'layers\.(0\.0|1)\.{_W}'
_PD = r'decode_head\.pixel_decoder\.'
_TD = r'decode_head\.transformer_decoder\.'

# (official key pattern, eva_mm key template); patterns match whole keys
_RULES: List[Tuple[re.Pattern, str]] = [(re.compile(f'^{p}$'), r) for p, r in [
    # -- the ViT (BEiT layout == EVAViT names) -> backbone.vit
    (r'backbone\.(cls_token|pos_embed)', r'backbone.vit.\1'),
    (rf'backbone\.patch_embed\.proj\.{_W}', r'backbone.vit.patch_embed.proj.\1'),
    (rf'backbone\.blocks\.(\d+)\.(norm1|norm2|attn\.proj|mlp\.fc1|mlp\.fc2)\.{_W}',
     r'backbone.vit.blocks.\1.\2.\3'),
    (r'backbone\.blocks\.(\d+)\.(attn\.qkv\.weight|attn\.q_bias|attn\.v_bias|gamma_1|gamma_2)',
     r'backbone.vit.blocks.\1.\2'),
    # -- the adapter
    (r'backbone\.level_embed', r'backbone.level_embed'),
    (rf'backbone\.spm\.(stem\.\d|conv[234]\.[01])\.{_BN}', r'backbone.spm.\1.\2'),
    (rf'backbone\.spm\.(fc[1-4])\.{_W}', r'backbone.spm.\1.\2'),
    (rf'backbone\.interactions\.(\d+)\.(injector|extractor|extra_extractors\.\d+)\.'
     rf'((query_norm|feat_norm|ffn_norm)\.{_W}|attn\.{_MSDA}|gamma|'
     rf'ffn\.(fc1|fc2|dwconv\.dwconv)\.{_W})', r'backbone.stages.\1.\2.\3'),
    (rf'backbone\.up\.{_W}', r'backbone.up.\1'),
    (rf'backbone\.norm1\.{_BN}', r'backbone.out_norms.0.\1'),
    (rf'backbone\.norm2\.{_BN}', r'backbone.out_norms.1.\1'),
    (rf'backbone\.norm3\.{_BN}', r'backbone.out_norms.2.\1'),
    (rf'backbone\.norm4\.{_BN}', r'backbone.out_norms.3.\1'),
    # -- pixel decoder: mmcv 1.x BaseTransformerLayer (self_attn, norm, ffn, norm)
    (rf'{_PD}encoder\.layers\.(\d+)\.attentions\.0\.{_MSDA}',
     r'decode_head.pixel_decoder.encoder.layers.\1.self_attn.\2.\3'),
    (rf'{_PD}encoder\.layers\.(\d+)\.ffns\.0\.{_FFN}',
     r'decode_head.pixel_decoder.encoder.layers.\1.ffn.layers.\2.\3'),
    (rf'{_PD}encoder\.layers\.(\d+)\.norms\.([01])\.{_W}',
     r'decode_head.pixel_decoder.encoder.layers.\1.norms.\2.\3'),
    (rf'{_PD}(input_convs|lateral_convs|output_convs)\.(\d+)\.(conv|gn)\.{_W}',
     r'decode_head.pixel_decoder.\1.\2.\3.\4'),
    (rf'{_PD}mask_feature\.{_W}', r'decode_head.pixel_decoder.mask_feature.\1'),
    (r'decode_head\.pixel_decoder\.level_encoding\.weight',
     r'decode_head.pixel_decoder.level_encoding.weight'),
    # -- transformer decoder: DetrTransformerDecoderLayer (cross_attn, norm, self_attn, norm,
    #    ffn, norm): attentions.0 is the cross-attention
    (rf'{_TD}layers\.(\d+)\.attentions\.0\.{_MHA}',
     r'decode_head.transformer_decoder.layers.\1.cross_attn.attn.\2'),
    (rf'{_TD}layers\.(\d+)\.attentions\.1\.{_MHA}',
     r'decode_head.transformer_decoder.layers.\1.self_attn.attn.\2'),
    (rf'{_TD}layers\.(\d+)\.ffns\.0\.{_FFN}',
     r'decode_head.transformer_decoder.layers.\1.ffn.layers.\2.\3'),
    (rf'{_TD}layers\.(\d+)\.norms\.([012])\.{_W}',
     r'decode_head.transformer_decoder.layers.\1.norms.\2.\3'),
    (rf'{_TD}post_norm\.{_W}', r'decode_head.transformer_decoder.post_norm.\1'),
    # -- Mask2Former head
    (r'decode_head\.(query_embed|query_feat|level_embed)\.weight', r'decode_head.\1.weight'),
    (rf'decode_head\.cls_embed\.{_W}', r'decode_head.cls_embed.\1'),
    (rf'decode_head\.mask_embed\.([024])\.{_W}', r'decode_head.mask_embed.\1.\2'),
    (rf'decode_head\.decoder_input_projs\.(\d+)\.{_W}', r'decode_head.decoder_input_projs.\1.\2'),
]]

# BEiT relative position bias: the released '*_relpos_layerscale_9dec' models. EVAViT's
# relative position is ViTDet's decomposed bias, not BEiT's table with cls entries.
_REL_POS = re.compile(r'^backbone\.(blocks\.\d+\.attn\.relative_position_(bias_table|index)|'
                      r'rel_pos_bias\.)')


def is_eva01_segmenter(sd: StateDict) -> bool:
    """An official EVA-01 segmenter: the BEiT ViT under ``backbone.`` plus the ViT-Adapter's
    ``backbone.interactions``."""
    return 'backbone.patch_embed.proj.weight' in sd and any(
        k.startswith('backbone.interactions.') for k in sd)


def convert_eva01_segmenter(sd: StateDict) -> Tuple[StateDict, ConversionReport]:
    """An official EVA-01 segmenter state dict -> eva_mm mmseg ``EncoderDecoder`` keys
    (``backbone.vit.*``, ``backbone.stages.*``, ``decode_head.*`` as mmdet 3.x names them).

    Raises CheckpointError naming the BEiT relative-position keys (unsupported) or every key
    no rule places."""
    report = ConversionReport(layout='eva01_seg')
    rel = sorted(k for k in sd if _REL_POS.match(k))
    if rel:
        raise CheckpointError(
            f'BEiT relative position bias is not supported by EVAViT (the released '
            f'"relpos_layerscale_9dec" segmenters); {len(rel)} key(s), e.g. {rel[:3]}. The '
            f'supported segmenters are eva_sem_seg_mask2former_cocostuff_53p4.pth and '
            f'eva_sem_seg_mask2former_ade_ss61p5_ms62p3.pth')
    out: StateDict = {}
    unknown = []
    for k, v in sd.items():
        for pat, repl in _RULES:
            if pat.match(k):
                new = pat.sub(repl, k)
                if new in out:
                    raise CheckpointError(f'two checkpoint keys map to {new}')
                out[new] = v
                break
        else:
            unknown.append(k)
    if unknown:
        raise CheckpointError(f'{len(unknown)} key(s) of the EVA-01 segmenter checkpoint have '
                              f'no place in eva_mm\'s EVAAdapter + Mask2Former: {unknown[:10]}'
                              f'{" ..." if len(unknown) > 10 else ""}')
    cls = out.get('decode_head.cls_embed.weight')
    if cls is not None:
        report.notes.append(f'{cls.shape[0] - 1} classes (+ no-object): configs/seg/'
                            + ('eva_mask2former_ade20k.py' if cls.shape[0] == 151 else
                               'eva_mask2former_cocostuff.py' if cls.shape[0] == 172 else
                               '<a config with this num_classes>'))
    if any(k.endswith('.gamma_1') for k in out):
        report.notes.append('layer scale present: set vit.layer_scale_init_value > 0')
    return out, report


register_model_layout('eva01_seg', is_eva01_segmenter, convert_eva01_segmenter)

__all__ = ['is_eva01_segmenter', 'convert_eva01_segmenter']
