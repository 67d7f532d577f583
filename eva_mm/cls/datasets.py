"""ImageNet-V2 as distributed: an image folder whose class folders are named by the integer
ImageNet-1K class index (``0`` ... ``999``). mmpretrain's ``CustomDataset`` would sort those
names as strings (``0, 1, 10, 100, ...``) and give wrong labels, so this dataset takes the label
from the folder name."""
import os
import os.path as osp
from typing import List, Tuple

from mmpretrain.datasets import CustomDataset

from ..registry import DATASETS


@DATASETS.register_module()
class ImageNetV2(CustomDataset):
    """``<data_root>/<data_prefix>/<class index>/*.jpeg`` -> (image, int(class index)).

    Raises ``ValueError`` naming the offending folder when a folder is not an integer in
    ``[0, num_classes)`` and ``RuntimeError`` when no image is found.
    """
    num_classes = 1000

    def _find_samples(self) -> List[Tuple[str, int]]:
        root = self.img_prefix
        if not osp.isdir(root):
            raise FileNotFoundError(f'ImageNet-V2 folder {root} does not exist')
        samples = []
        for name in sorted(os.listdir(root)):
            if not osp.isdir(osp.join(root, name)):
                continue
            if not name.isdigit() or not 0 <= int(name) < self.num_classes:
                raise ValueError(f'ImageNet-V2 class folder {osp.join(root, name)!r} is not a '
                                 f'class index in [0, {self.num_classes})')
            for f in sorted(os.listdir(osp.join(root, name))):
                if self.is_valid_file(f):
                    samples.append((osp.join(name, f), int(name)))
        if not samples:
            raise RuntimeError(f'found no image ({", ".join(self.extensions)}) in the class '
                               f'folders of {root}')
        if self.CLASSES is None:
            self._metainfo['classes'] = tuple(str(i) for i in range(self.num_classes))
        return samples


__all__ = ['ImageNetV2']
