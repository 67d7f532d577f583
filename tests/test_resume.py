"""A run killed with SIGKILL and resumed with ``tools/train.py --resume`` ends bit-identical
(weights and optimizer state) to an uninterrupted run: one test per task family, each with a
validation between the checkpoint it resumes from and the end, drop path switched on (the torch
random stream matters) and data workers where the family's config uses them. The detector's
test is ``tests/test_det_train.py::test_sigkill_and_resume_ends_bit_identical``, DeepSpeed's is
``tests/test_resume_deepspeed.py``, two processes through ``tools/dist_train.sh`` with per-rank
seeds (each rank resumes its own random states) are in ``tests/test_multinode.py``. Harness:
``tests/_kill.py``."""
import pytest

from _cli import load_data_tool
from _kill import assert_resume_is_exact


def _roots(root: str, loaders=('train_dataloader', 'val_dataloader', 'test_dataloader')) -> list:
    return [f'{dl}.dataset.data_root={root}' for dl in loaders]


@pytest.fixture(scope='module')
def cls_data(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('shapes_cls'))
    return load_data_tool('make_shapes_cls').make_shapes_cls(out, 8, 2, 32, seed=0, verbose=False)


CLS = 'configs/cls/eva-tiny_shapes.py'


def _cls_opts(data: str, train_workers: int) -> list:
    # 32 images, batch 8: 4 iterations an epoch; validation after every epoch
    return _roots(data) + [
        'train_cfg.max_epochs=4', 'train_cfg.val_interval=1', 'train_dataloader.batch_size=8',
        f'train_dataloader.num_workers={train_workers}', 'val_dataloader.num_workers=1',
        'model.backbone.drop_path_rate=0.1',
        'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=5']


def test_cls_epoch_loop_with_data_workers(cls_data, tmp_path):
    """Epoch-based loop, 2 train workers (not persistent, as the configs set), RandomFlip in
    the workers, drop path in the main process, a validation with its own worker after the
    epoch-2 checkpoint (before the fix in RNGStateHook it drew the val loader's worker seed
    from the torch stream and the resumed run's drop-path masks differed)."""
    assert_resume_is_exact(CLS, tmp_path, _cls_opts(cls_data, 2), kill_after='epoch_2.pth',
                           final='epoch_4.pth')


def test_cls_kill_during_a_save(cls_data, tmp_path):
    """Killed half-way through writing epoch_3.pth: no epoch_3.pth is left (only the
    temporary file), last_checkpoint still names epoch_2.pth, and --resume from there ends
    as the uninterrupted run."""
    assert_resume_is_exact(CLS, tmp_path, _cls_opts(cls_data, 0), kill_after='epoch_3.pth',
                           final='epoch_4.pth', during_save=True)
    assert (tmp_path / 'killed' / 'epoch_3.pth').exists()  # rewritten by the resumed run


def test_video_epoch_loop_with_data_workers(tmp_path):
    """The tiny video recognizer (mmaction2 Recognizer3D, 2 decord workers)."""
    data = str(tmp_path / 'moving_shapes')
    load_data_tool('make_moving_shapes').generate(data, num_train=8, num_val=2, num_frames=8,
                                                  size=32, seed=0, verbose=False)
    opts = [f'train_dataloader.dataset.ann_file={data}/train_list.txt',
            f'train_dataloader.dataset.data_prefix.video={data}',
            f'val_dataloader.dataset.ann_file={data}/val_list.txt',
            f'val_dataloader.dataset.data_prefix.video={data}',
            'train_dataloader.batch_size=4', 'val_dataloader.batch_size=2',
            'val_dataloader.num_workers=1',
            'train_cfg.max_epochs=3', 'train_cfg.val_begin=1', 'train_cfg.val_interval=1',
            'model.backbone.drop_path_rate=0.1',
            'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=5']
    assert_resume_is_exact('configs/video/eva-tiny_moving-shapes.py', tmp_path, opts,
                           kill_after='epoch_1.pth', final='epoch_3.pth')


def _iter_opts(iters: int = 6) -> list:
    return [f'train_cfg.max_iters={iters}', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=5',
            'default_hooks.checkpoint.by_epoch=False', 'default_hooks.logger.interval=1']


def test_seg_iteration_loop_with_a_persistent_worker(tmp_path):
    """The tiny Mask2Former (iteration-based: the resume replays the data loader, whose
    persistent worker then has drawn what an uninterrupted run's worker drew)."""
    data = str(tmp_path / 'shapes_seg')
    gen = load_data_tool('make_shapes_seg')
    gen.write_split(data, 'training', 8, 64, seed=0)
    gen.write_split(data, 'validation', 2, 64, seed=1)
    opts = _roots(data) + _iter_opts() + [
        'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
        'model.backbone.drop_path_rate=0.1']
    assert_resume_is_exact('configs/seg/eva-tiny_mask2former_shapes.py', tmp_path, opts,
                           kill_after='iter_4.pth', final='iter_6.pth')


@pytest.fixture(scope='module')
def captioned(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('captioned_shapes'))
    return load_data_tool('make_captioned_shapes').make_captioned_shapes(out, 24, 6, 48, seed=0,
                                                                         verbose=False)


def test_mim_iteration_loop_with_persistent_workers(captioned, tmp_path):
    """EVA MIM (student + frozen CLIP teacher, block-wise masks drawn in 2 persistent
    workers)."""
    opts = _roots(captioned, ('train_dataloader', 'val_dataloader')) + _iter_opts() + [
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=2',
        'train_dataloader.persistent_workers=True', 'val_dataloader.batch_size=6',
        'model.backbone.drop_path_rate=0.1']
    assert_resume_is_exact('configs/pretrain/eva-tiny_mim_shapes.py', tmp_path, opts,
                           kill_after='iter_4.pth', final='iter_6.pth')


def test_clip_iteration_loop_with_a_worker(captioned, tmp_path):
    """EVA-CLIP (contrastive loss, learnable temperature, zero-shot validation)."""
    opts = _roots(captioned) + _iter_opts() + [
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=1',
        'val_dataloader.batch_size=6', 'model.vision.init_cfg=None', 'allow_random_init=True']
    assert_resume_is_exact('configs/pretrain/eva-tiny_clip_shapes.py', tmp_path, opts,
                           kill_after='iter_4.pth', final='iter_6.pth')


@pytest.mark.parametrize('persistent', [True, False])
def test_persistent_workers_in_an_epoch_loop_are_warned_about(cls_data, tmp_path, persistent):
    """The one state a checkpoint cannot hold (persistent workers' random states in an
    epoch-based loop) is named in a warning at start; the configs' setting gets none."""
    from _cli import run_tool
    run_tool('train.py', [CLS, '--work-dir', str(tmp_path), '--cfg-options',
                          *_cls_opts(cls_data, 1), 'train_cfg.max_epochs=1',
                          f'train_dataloader.persistent_workers={persistent}'])
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'Epoch(train) [1][4/4]' in log
    assert ('persistent workers in an epoch-based loop' in log) == persistent

