"""Zero-shot classification with prompt templates, as an mmengine metric.

``ZeroShotAccuracy`` holds the prompt templates (and optionally the class names; by default
the dataset's ``metainfo['classes']``). Before every validation/test epoch
``ZeroShotClassifierHook`` asks the model (``build_zero_shot_classifier``) for the class
embeddings from those prompts and hands them to the metric; the model's ``predict`` returns
normalised image embeddings, which the metric scores against the class embeddings.
"""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook

from ..registry import HOOKS, METRICS

# a compact subset of OpenAI's ImageNet prompt ensemble
DEFAULT_TEMPLATES = ('a photo of a {}.', 'a bad photo of a {}.', 'a photo of the small {}.',
                     'a photo of the large {}.', 'a rendering of a {}.', 'a drawing of a {}.')


def openai_imagenet_templates() -> List[str]:
    """OpenAI's 80 ImageNet prompt templates (from open_clip), as ``'... {} ...'`` strings."""
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES
    return [t('{}') for t in OPENAI_IMAGENET_TEMPLATES]


@METRICS.register_module()
class ZeroShotAccuracy(BaseMetric):
    """Top-k zero-shot accuracy (%) of image embeddings against prompt-ensembled classes.

    Args:
        templates: prompt templates with ``{}`` for the class name, or ``'openai_imagenet'``.
        classnames: class names; ``'imagenet'`` for open_clip's ImageNet-1K class names;
            None uses ``dataset_meta['classes']``.
        topk: the k of the reported top-k accuracies.
    """
    default_prefix = 'zero_shot'

    def __init__(self,
                 templates: Union[str, Sequence[str]] = DEFAULT_TEMPLATES,
                 classnames: Optional[Union[str, Sequence[str]]] = None,
                 topk: Union[int, Sequence[int]] = (1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(templates, str):
            if templates != 'openai_imagenet':
                raise ValueError(f"templates must be a list of strings or 'openai_imagenet', "
                                 f"got {templates!r}")
            templates = openai_imagenet_templates()
        templates = list(templates)
        bad = [t for t in templates if '{}' not in t]
        if not templates or bad:
            raise ValueError(f'templates must be non-empty strings containing "{{}}"; bad: {bad}')
        self.templates = templates
        if isinstance(classnames, str):
            if classnames != 'imagenet':
                raise ValueError(f"classnames must be a list, 'imagenet' or None, got {classnames!r}")
            from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES
            classnames = IMAGENET_CLASSNAMES
        self._classnames = list(classnames) if classnames is not None else None
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        self.classifier: Optional[torch.Tensor] = None

    @property
    def classnames(self) -> List[str]:
        if self._classnames is not None:
            return self._classnames
        classes = (self.dataset_meta or {}).get('classes')
        if not classes:
            raise ValueError('ZeroShotAccuracy needs class names: pass classnames= or use a '
                             'dataset whose metainfo has "classes"')
        return list(classes)

    def set_classifier(self, classifier: torch.Tensor) -> None:
        """(D, K) normalised class embeddings for the coming evaluation."""
        if classifier.ndim != 2 or classifier.shape[1] != len(self.classnames):
            raise ValueError(f'classifier must be (D, {len(self.classnames)}), got '
                             f'{tuple(classifier.shape)}')
        self.classifier = classifier.detach().float().cpu()

    def process(self, data_batch, data_samples: Sequence) -> None:
        for ds in data_samples:
            get = ds.get if isinstance(ds, dict) else (lambda k, o=ds: getattr(o, k, None))
            emb, label = get('image_embedding'), get('gt_label')
            if emb is None or label is None:
                raise ValueError('ZeroShotAccuracy needs "image_embedding" (model predict) and '
                                 '"gt_label" in every data sample')
            self.results.append((torch.as_tensor(emb).float().cpu(),
                                 int(torch.as_tensor(label).reshape(-1)[0])))

    def compute_metrics(self, results: list) -> dict:
        if self.classifier is None:
            raise RuntimeError('ZeroShotAccuracy has no class embeddings: add '
                               "dict(type='eva_mm.ZeroShotClassifierHook') to custom_hooks")
        emb = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results])
        logits = emb @ self.classifier
        out = {}
        for k in self.topk:
            k_eff = min(k, logits.shape[1])
            hit = (logits.topk(k_eff, dim=1).indices == labels[:, None]).any(1)
            out[f'top{k}'] = hit.float().mean().item() * 100
        return out


def unwrap_model(model):
    """The eva_mm model inside DDP / DeepSpeed wrappers."""
    seen = 0
    while not hasattr(model, 'build_zero_shot_classifier') and seen < 4:
        model = getattr(model, 'module', None) or getattr(model, 'model', None)
        if model is None:
            raise TypeError('no model with build_zero_shot_classifier found inside the runner model')
        seen += 1
    return model


def build_zero_shot_classifier(model, classnames: Sequence[str],
                               templates: Sequence[str]) -> torch.Tensor:
    """(D, K) class embeddings, ``model.build_zero_shot_classifier`` split over processes.

    Under ``torch.distributed`` every process encodes the prompts of one contiguous share of
    the K classes and the shares are all-gathered (a collective: every process must call
    this); without a process group (or with fewer classes than processes) one process
    encodes them all. ImageNet's 1000 classes x 80 templates are 80,000 prompts: 313 per
    process on 256 GPUs instead of all of them on each."""
    import torch.distributed as dist
    classnames = list(classnames)
    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    if world == 1 or len(classnames) < world:
        return model.build_zero_shot_classifier(classnames, templates)
    rank = dist.get_rank()
    share = -(-len(classnames) // world)  # ceil: equal shares, the last one shorter
    bounds = [(r * share, min((r + 1) * share, len(classnames))) for r in range(world)]
    lo, hi = bounds[rank]
    local = model.build_zero_shot_classifier(classnames[lo:hi], templates) if hi > lo else None
    device = next(model.parameters()).device  # the process group's device (gloo: cpu)
    dim = torch.tensor([local.shape[0] if local is not None else 0], device=device)
    dist.all_reduce(dim, op=dist.ReduceOp.MAX)  # a process without classes learns D
    padded = torch.zeros(int(dim), share, dtype=torch.float32, device=device)
    if local is not None:
        padded[:, :hi - lo] = local.float()
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:, :h - lo_] for p, (lo_, h) in zip(parts, bounds)], dim=1)


@HOOKS.register_module()
class ZeroShotClassifierHook(Hook):
    """Builds the class embeddings of every :class:`ZeroShotAccuracy` metric from its prompt
    templates with the current model, before each validation and test epoch (split over the
    processes of a distributed run: :func:`build_zero_shot_classifier`)."""
    priority = 'NORMAL'

    def _prepare(self, runner, loop_name: str) -> None:
        loop = getattr(runner, loop_name, None)
        evaluator = getattr(loop, 'evaluator', None)
        if evaluator is None:
            return
        model = unwrap_model(runner.model)
        for metric in evaluator.metrics:
            if isinstance(metric, ZeroShotAccuracy):
                was_training = model.training
                model.eval()
                metric.set_classifier(
                    build_zero_shot_classifier(model, metric.classnames, metric.templates))
                model.train(was_training)

    def before_val_epoch(self, runner) -> None:
        self._prepare(runner, 'val_loop')

    def before_test_epoch(self, runner) -> None:
        self._prepare(runner, 'test_loop')
