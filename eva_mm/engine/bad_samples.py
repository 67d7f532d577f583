"""Opt-in policy for training sets with a few unreadable samples (corrupt / truncated / missing
image, video or annotation files): skip them, loudly.

By default nothing is skipped: a bad file stops training with an error naming it. Wrapping a
*training* dataset in :class:`SkipBadSamples` instead replaces each sample whose loading fails
by the next readable one, logs a warning naming the sample's files and the error with the
running count of skipped samples, and stops with :class:`TooManyBadSamples` once more than
``max_skipped`` were skipped (a broken pipeline fails every sample: it is not taken for bad
files for long). Evaluation sets are refused: skipping would change what is evaluated.

Config (any mm* training config of eva_mm; the counts are shared by the DataLoader workers)::

    train_dataloader = dict(dataset=dict(
        _delete_=True, type='eva_mm.SkipBadSamples', max_skipped=100,
        dataset={{_base_.train_dataloader.dataset}}))
"""
import logging
import multiprocessing
from typing import Any, Union

from mmengine.logging import print_log
from torch.utils.data import Dataset

from ..registry import DATASETS


class TooManyBadSamples(RuntimeError):
    """More samples failed to load than a :class:`SkipBadSamples` policy allows."""


def sample_files(dataset: Any, idx: int) -> str:
    """The files of sample ``idx`` (``*_path`` / ``filename`` keys of its data info), e.g.
    ``img_path=a.jpg, seg_map_path=a.png``; ``sample <idx>`` when unknown."""
    try:
        info = dataset.get_data_info(idx)
    except Exception:  # noqa: BLE001 - only used to name the sample
        return f'sample {idx}'
    files = [f'{k}={v}' for k, v in info.items()
             if isinstance(v, str) and (k.endswith('_path') or k == 'filename')]
    return ', '.join(files) or f'sample {idx}'


@DATASETS.register_module()
class SkipBadSamples(Dataset):
    """A training dataset whose unreadable samples are replaced by the next readable one.

    Args:
        dataset: the wrapped dataset or its config (built from eva_mm's registry, which
            reaches every mm* library's datasets).
        max_skipped: stop with :class:`TooManyBadSamples` when more samples than this were
            skipped: an int, or a float in (0, 1) as a fraction of the dataset's length.

    Every skip is logged as a warning: the sample's files, the error, and the number skipped so
    far (all DataLoader workers together, see :attr:`num_skipped`).
    """

    def __init__(self, dataset: Union[dict, Dataset], max_skipped: Union[int, float] = 0.001
                 ) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        if getattr(self.dataset, 'test_mode', False):
            raise ValueError('SkipBadSamples is for training sets: it replaces bad samples by '
                             'others, so an evaluation set (test_mode=True) would no longer be '
                             'evaluated as a whole')
        if isinstance(max_skipped, float) and not 0 < max_skipped < 1:
            raise ValueError(f'max_skipped as a fraction must be in (0, 1), got {max_skipped}')
        if isinstance(max_skipped, int) and max_skipped < 0:
            raise ValueError(f'max_skipped must be >= 0, got {max_skipped}')
        self.max_skipped = max_skipped
        self._skipped = multiprocessing.Value('i', 0)  # shared with forked/spawned workers

    # -- the wrapped dataset's interface --------------------------------------------------------
    def full_init(self) -> None:
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def __len__(self) -> int:
        return len(self.dataset)

    # -- skipping ----------------------------------------------------------------------------
    @property
    def num_skipped(self) -> int:
        """Samples skipped so far, over all processes that share this dataset."""
        return self._skipped.value

    def limit(self) -> int:
        """The most samples that may be skipped."""
        if isinstance(self.max_skipped, float):
            return int(self.max_skipped * len(self))
        return self.max_skipped

    def __getitem__(self, idx: int) -> Any:
        n = len(self)
        for offset in range(n):
            j = (idx + offset) % n
            try:
                return self.dataset[j]
            except Exception as e:  # noqa: BLE001 - counted, logged, bounded below
                with self._skipped.get_lock():
                    self._skipped.value += 1
                    count = self._skipped.value
                what = (f'{sample_files(self.dataset, j)}: '
                        f'{type(e).__name__}: {str(e).strip()[:300]}')
                if count > self.limit():
                    raise TooManyBadSamples(
                        f'{count} samples failed to load, more than max_skipped='
                        f'{self.max_skipped} ({self.limit()} of {n}); the last: {what}. Fix or '
                        f'remove the files, or look for a pipeline error if every sample '
                        f'fails') from e
                print_log(f'SkipBadSamples: skipped {what} [{count} skipped so far, limit '
                          f'{self.limit()}]', logger='current', level=logging.WARNING)
        raise TooManyBadSamples(f'no sample of the {n} could be loaded')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(max_skipped={self.max_skipped}, '
                f'dataset={self.dataset.__class__.__name__}, {len(self)} samples)')


__all__ = ['SkipBadSamples', 'TooManyBadSamples', 'sample_files']
