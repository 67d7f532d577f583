"""EVA-CLIP: an EVAViT image tower and an open_clip text tower, trained contrastively (SPEC §3).

The contrastive loss is open_clip's "local loss" with features gathered *with gradient*
across processes: every process scores its own B images against all W*B texts (and its B
texts against all W*B images). Summed over processes and averaged by DDP this is exactly the
single-process loss over the global batch (tested in ``tests/test_pretrain_clip.py``).
"""
import math
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import nn

from ..models.checkpoint import read_checkpoint, unwrap_checkpoint
from ..registry import MODELS, TRANSFORMS

# OpenAI CLIP-L/14 text encoder (124M with its token embedding), as open_clip's ViT-L-14
CLIP_L_TEXT_CFG = dict(context_length=77, vocab_size=49408, width=768, heads=12, layers=12)


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums the gradients of every process into the local slice
    (all_reduce + slice; works on gloo, which has no reduce_scatter)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.world = dist.get_rank(), dist.get_world_size()
        ctx.batch = x.shape[0]
        out = [torch.empty_like(x) for _ in range(ctx.world)]
        dist.all_gather(out, x.contiguous())
        return torch.cat(out, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.batch:(ctx.rank + 1) * ctx.batch]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """(B, D) local features -> (W*B, D) features of all processes (rank order), with grad.

    Every process must hold the same B. Identity without an initialised process group."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    sizes = [torch.zeros(1, dtype=torch.long) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, torch.tensor([x.shape[0]], dtype=torch.long))
    if len({int(s) for s in sizes}) != 1:
        raise ValueError(f'contrastive gather needs the same batch size on every process, got '
                         f'{[int(s) for s in sizes]} (use drop_last=True)')
    return _GatherWithGrad.apply(x)


def clip_contrastive_loss(image_features: torch.Tensor, text_features: torch.Tensor,
                          logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE, local-loss style.

    Args:
        image_features: (B, D) L2-normalised local image embeddings.
        text_features: (B, D) L2-normalised local text embeddings (pairs by row).
        logit_scale: scalar, the exp'd temperature.
    Returns:
        scalar: (CE(images -> all texts) + CE(texts -> all images)) / 2 over the local rows.
    """
    B = image_features.shape[0]
    all_img = gather_with_grad(image_features)
    all_txt = gather_with_grad(text_features)
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    labels = torch.arange(B, device=image_features.device) + rank * B
    logits_per_image = logit_scale * image_features @ all_txt.T
    logits_per_text = logit_scale * text_features @ all_img.T
    return (F.cross_entropy(logits_per_image, labels) +
            F.cross_entropy(logits_per_text, labels)) / 2


_TOKENIZERS: Dict[int, object] = {}


def get_tokenizer(context_length: int = 77):
    """open_clip's CLIP BPE tokenizer (bundled vocabulary; cached per context length)."""
    if context_length not in _TOKENIZERS:
        from open_clip.tokenizer import SimpleTokenizer
        _TOKENIZERS[context_length] = SimpleTokenizer(context_length=context_length)
    return _TOKENIZERS[context_length]


@TRANSFORMS.register_module()
class TokenizeCaption(BaseTransform):
    """``results['caption']`` (str, or a list of str: one is drawn) -> ``results['text']``
    (context_length,) int64 token ids from open_clip's tokenizer."""

    def __init__(self, context_length: int = 77, key: str = 'caption') -> None:
        self.context_length = context_length
        self.key = key

    def transform(self, results: dict) -> dict:
        cap = results.get(self.key)
        if isinstance(cap, (list, tuple)):
            if not cap:
                raise ValueError(f'empty caption list for {results.get("img_path")}')
            cap = cap[np.random.randint(len(cap))]
        if not isinstance(cap, str) or not cap.strip():
            raise ValueError(f'sample {results.get("img_path")} has no caption string under '
                             f'{self.key!r} (got {cap!r})')
        results['text'] = get_tokenizer(self.context_length)(cap)[0].numpy()
        return results


@MODELS.register_module()
class EVACLIP(BaseModel):
    """EVA-CLIP contrastive model (an mmengine ``BaseModel``).

    Args:
        vision: EVAViT config (``out_type='cls_token'`` is forced; the final norm is applied
            to the cls token, as timm's Eva with ``global_pool='token'``). Initialise it from
            an EVA MIM checkpoint with ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
        embed_dim: joint embedding width (EVA-CLIP g: 1024).
        text_cfg: open_clip ``CLIPTextCfg`` fields (OpenAI CLIP-L text: :data:`CLIP_L_TEXT_CFG`).
        quick_gelu: QuickGELU in the text tower (OpenAI CLIP weights need it).
        text_checkpoint: optional open_clip CLIP / text-tower state dict for the text tower
            (e.g. OpenAI CLIP-L converted by open_clip); a text projection of another shape
            is left at init (EVA-CLIP g projects 768 -> 1024).
        init_logit_scale: initial log temperature (log(1/0.07)); clamped to log(100).
    """

    def __init__(self,
                 vision: dict,
                 embed_dim: int = 1024,
                 text_cfg: Optional[dict] = None,
                 quick_gelu: bool = True,
                 text_checkpoint: Optional[str] = None,
                 init_logit_scale: float = math.log(1 / 0.07),
                 max_logit_scale: float = math.log(100),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        from open_clip.model import _build_text_tower
        vision = dict(vision, out_type='cls_token', with_cls_token=True, final_norm=True)
        vision.setdefault('type', 'eva_mm.EVAViT')
        if vision.get('use_mask_token'):
            vision['use_mask_token'] = False
        self.visual = MODELS.build(vision)
        self.visual_head = nn.Linear(self.visual.embed_dims, embed_dim)
        nn.init.trunc_normal_(self.visual_head.weight, std=.02)
        nn.init.zeros_(self.visual_head.bias)
        self.text_cfg = dict(CLIP_L_TEXT_CFG if text_cfg is None else text_cfg)
        self.quick_gelu = quick_gelu
        self.embed_dim = embed_dim
        self.text = _build_text_tower(embed_dim, self.text_cfg, quick_gelu=quick_gelu)
        self.context_length = self.text.context_length
        self.logit_scale = nn.Parameter(torch.tensor(float(init_logit_scale)))
        self.max_logit_scale = max_logit_scale
        self.text_checkpoint = text_checkpoint

    def init_weights(self) -> None:
        super().init_weights()
        if self.text_checkpoint:
            self.load_text_tower(self.text_checkpoint)

    def load_text_tower(self, path: str) -> None:
        """Load ``text.*`` / open_clip CLIP text keys (token_embedding, transformer, ...)."""
        sd = unwrap_checkpoint(read_checkpoint(path))
        if any(k.startswith('text.') for k in sd):
            sd = {k[5:]: v for k, v in sd.items() if k.startswith('text.')}
        own = self.text.state_dict()
        sd = {k: v for k, v in sd.items() if k in own}
        skipped = [k for k, v in sd.items() if v.shape != own[k].shape]
        sd = {k: v for k, v in sd.items() if k not in skipped}
        missing = [k for k in own if k not in sd]
        if not sd:
            raise ValueError(f'{path} holds no text-tower weights')
        self.text.load_state_dict(sd, strict=False)
        print_log(f'EVA-CLIP text tower from {path}: shape-mismatched (left at init) {skipped}; '
                  f'missing {missing}', logger='current')

    # -- encoders ---------------------------------------------------------------------------
    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """(B, 3, H, W) -> (B, embed_dim)."""
        x = self.visual_head(self.visual(images)[0])
        return F.normalize(x, dim=-1) if normalize else x

    def encode_text(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """(B, context_length) token ids -> (B, embed_dim)."""
        x = self.text(tokens)
        return F.normalize(x, dim=-1) if normalize else x

    def encode_text_trimmed(self, tokens: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """:meth:`encode_text` of the tokens cut after the batch's last end-of-text token.

        The same embeddings (a causal text transformer pooled at the end-of-text token never
        looks at the padding after it), for a fraction of the work: prompts are ~10-20 of
        the 77 tokens. Only for open_clip's causal, argmax-pooled tower without pad mask or
        cls token (OpenAI CLIP's); any other tower gets the whole context."""
        t = self.text
        # the tower pools at each row's argmax (the end-of-text id, the largest); what follows
        # it is padding (id 0, which is also the token "!": so count by position, not by id)
        used = int(tokens.argmax(-1).max()) + 1 if tokens.numel() else tokens.shape[1]
        plain = (getattr(t, 'attn_mask', None) is not None and getattr(t, 'pool_type', None)
                 == 'argmax' and getattr(t, 'cls_emb', None) is None
                 and not getattr(t, 'use_pad_mask', False))
        if not plain or used >= tokens.shape[1]:
            return self.encode_text(tokens, normalize)
        causal = t.attn_mask
        t.attn_mask = causal[:used, :used]  # open_clip slices the positions, not the mask
        try:
            return self.encode_text(tokens[:, :used], normalize)
        finally:
            t.attn_mask = causal

    def tokenize(self, texts: Union[str, Sequence[str]]) -> torch.Tensor:
        return get_tokenizer(self.context_length)(list([texts] if isinstance(texts, str) else texts))

    @torch.no_grad()
    def build_zero_shot_classifier(self, classnames: Sequence[str],
                                   templates: Sequence[str], batch: int = 256) -> torch.Tensor:
        """(embed_dim, K) class embeddings: per class the normalised mean of the normalised
        embeddings of every prompt ``template.format(classname)``."""
        if not classnames or not templates:
            raise ValueError('zero-shot classification needs class names and prompt templates')
        bad = [t for t in templates if '{}' not in t]
        if bad:
            raise ValueError(f'prompt templates must contain "{{}}": {bad}')
        device = self.logit_scale.device
        weights = []
        for name in classnames:
            prompts = [t.format(name) for t in templates]
            emb = torch.cat([self.encode_text_trimmed(
                self.tokenize(prompts[i:i + batch]).to(device))
                for i in range(0, len(prompts), batch)])
            weights.append(F.normalize(emb.mean(0), dim=-1))
        return torch.stack(weights, dim=1)

    def get_logit_scale(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=self.max_logit_scale).exp()

    # -- mmengine ---------------------------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples: List) -> Dict[str, torch.Tensor]:
        texts = torch.stack([torch.as_tensor(_field(ds, 'text')) for ds in data_samples])
        img = self.encode_image(inputs)
        txt = self.encode_text(texts.to(inputs.device).long())
        scale = self.get_logit_scale()
        loss = clip_contrastive_loss(img, txt, scale)
        return dict(loss=loss, logit_scale=scale.detach())

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'tensor') -> Union[Dict[str, torch.Tensor], torch.Tensor, List]:
        if mode == 'loss':
            if not data_samples:
                raise ValueError('EVA-CLIP training needs data samples with token ids "text" '
                                 '(add eva_mm.TokenizeCaption and PackInputs(algorithm_keys='
                                 '["text"]))')
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.encode_image(inputs)
        if mode == 'predict':
            emb = self.encode_image(inputs)
            out = []
            for i, ds in enumerate(data_samples or [None] * len(emb)):
                if ds is None:
                    from mmengine.structures import BaseDataElement
                    ds = BaseDataElement()
                ds.set_field(emb[i].detach().float().cpu(), 'image_embedding')
                out.append(ds)
            return out
        raise ValueError(f'invalid mode {mode!r}; use "loss", "predict" or "tensor"')


def _field(ds, name: str):
    v = ds.get(name) if isinstance(ds, dict) else getattr(ds, name, None)
    if v is None:
        raise ValueError(f'a data sample has no {name!r} field (add eva_mm.TokenizeCaption and '
                         f'PackInputs(algorithm_keys=["{name}"]) to the pipeline)')
    return v
