"""Helpers to shrink the paper-scale detector configs for tests and smoke runs."""
from typing import Any


def official_tiny_cfg(cfg: Any, size: int) -> Any:
    """Shrink a paper detection config (a ``Config``) in place to the sizes of the official
    reference detector in ``shared/reference/eva01_det`` (its README §2): ViT 192 wide, 8
    blocks, 3 heads, MLP 837, window 16 in blocks 0-2 and 4-6, rel-pos tables learned for 256;
    64-channel pyramid / RPN / heads, 128-wide box fc; test resize and square pad to ``size``.
    Everything else (the official options, the test protocol) stays the config's."""
    m = cfg.model.get('module', cfg.model)
    m.data_preprocessor.pad_size_divisor = size
    m.backbone.update(arch=dict(embed_dims=192, num_layers=8, num_heads=3,
                                feedforward_channels=837),
                      window_block_indexes=[0, 1, 2, 4, 5, 6], rel_pos_img_size=256,
                      with_cp=False, init_cfg=None)
    m.neck.update(backbone_channel=192, in_channels=[48, 96, 192, 192], out_channels=64)
    m.rpn_head.update(in_channels=64, feat_channels=64)
    m.roi_head.bbox_roi_extractor.out_channels = 64
    for h in m.roi_head.bbox_head:
        h.update(in_channels=64, conv_out_channels=64, fc_out_channels=128)
    if m.roi_head.get('mask_head'):
        m.roi_head.mask_roi_extractor.out_channels = 64
        m.roi_head.mask_head.update(in_channels=64, conv_out_channels=64)
    for key in ('pipeline', 'tta_pipeline'):
        pipe = cfg.test_dataloader.dataset.pipeline if key == 'pipeline' else cfg.get(key, [])
        for t in pipe:
            for tr in ([t] if t['type'] == 'Resize' else
                       [x for group in t.get('transforms', []) for x in group]):
                if tr['type'] == 'Resize':
                    tr['scale'] = (size, size)
    return cfg


def shrink_detector_cfg(model: Any, width: int = 64, depth: int = 4, heads: int = 2) -> Any:
    """Replace the EVAViT of a detector config (``model`` or a TTA wrapper's ``module``) by a
    tiny one (global attention in every other block) and fit the SimpleFPN to it; in place.
    Everything else (heads, losses, test options) is kept, so building it exercises the
    config's own components."""
    m = model.get('module', model)
    bb = m['backbone']
    if bb.get('type') != 'eva_mm.EVAViT':
        raise ValueError(f'expected an eva_mm.EVAViT backbone, got {bb.get("type")!r}')
    bb['arch'] = dict(embed_dims=width, num_layers=depth, num_heads=heads,
                      feedforward_channels=2 * width)
    if bb.get('window_block_indexes'):
        bb['window_block_indexes'] = [i for i in range(depth) if i % 2 == 0]
    bb['with_cp'] = False
    bb['init_cfg'] = None
    neck = m['neck']
    neck['backbone_channel'] = width
    neck['in_channels'] = [width // 4, width // 2, width, width]
    return model


def retarget_data_root(cfg: Any, root: str) -> Any:
    """Move every path of a config (a ``Config``) that starts with its ``data_root`` under
    ``root`` instead, in place: the datasets' ``data_root`` (also inside ConcatDataset /
    ClassBalancedDataset wrappers), the evaluators' ``ann_file`` and any other file read from the
    data folder (the LVIS federated loss' ``class_freq``). ``root`` ends with ``/`` as the
    configs' ``data_root``. Returns ``cfg``."""
    old = cfg.get('data_root')
    if not old:
        raise ValueError('the config defines no data_root to move')
    old_bare = old.rstrip('/')

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            if node == old or node == old_bare:
                return root
            return root + node[len(old):] if node.startswith(old) else node
        if isinstance(node, dict):
            for k in list(node.keys()):
                node[k] = walk(node[k])
        elif isinstance(node, list):
            node[:] = [walk(v) for v in node]
        elif isinstance(node, tuple):
            return tuple(walk(v) for v in node)
        return node

    for key in list(cfg.keys()):
        cfg[key] = walk(cfg[key])
    return cfg


def _train_datasets(dataset: Any) -> list:
    """The leaf datasets of a (possibly wrapped: ConcatDataset, ClassBalancedDataset) config."""
    if 'datasets' in dataset:
        return [d for sub in dataset.datasets for d in _train_datasets(sub)]
    if 'dataset' in dataset:
        return _train_datasets(dataset.dataset)
    return [dataset]


def tiny_train_cfg(cfg: Any, size: int, data_root: str) -> Any:
    """A paper detection config (a ``Config``, train + val), shrunk in place to train on a CPU:
    the official tiny reference model (:func:`official_tiny_cfg`) with the square pad and the
    global rel-pos tables at ``size``, the LSJ resize / crop of the training pipeline at
    ``size`` x ``size`` (the ratio range, flip and filters stay the config's), data read from
    ``data_root`` (:func:`retarget_data_root`), fp32 (``AmpOptimWrapper`` needs a GPU; the
    optimizer, layer decay and its options stay the config's), no pretrained file, one process
    worker-less loading. Returns ``cfg``."""
    official_tiny_cfg(cfg, size)
    model = cfg.model.get('module', cfg.model)
    model.backbone.rel_pos_img_size = size
    for ds in _train_datasets(cfg.train_dataloader.dataset):
        for t in ds.pipeline:
            if t['type'] == 'RandomResize':
                t['scale'] = (size, size)
            elif t['type'] == 'RandomCrop':
                t['crop_size'] = (size, size)
    retarget_data_root(cfg, data_root)
    ow = cfg.optim_wrapper
    if ow.get('type') == 'AmpOptimWrapper':
        ow.type = 'OptimWrapper'
        ow.pop('dtype', None)
        ow.pop('loss_scale', None)
    cfg.allow_random_init = True
    cfg.load_from = None
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].num_workers = 0
        cfg[name].persistent_workers = False
    return cfg


__all__ = ['official_tiny_cfg', 'shrink_detector_cfg', 'retarget_data_root', 'tiny_train_cfg']
