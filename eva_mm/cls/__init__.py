"""eva_mm.cls: image classification with mmpretrain (ImageClassifier + eva_mm.EVAViT + a linear
head, configs in configs/cls/) and the robustness-set evaluation pieces: ImageNet-A/-R subset
accuracy, ImageNet-ReaL accuracy, the ImageNet-V2 folder layout."""
from .convert import convert_eva01_classifier, is_eva01_classifier
from .datasets import ImageNetV2
from .metrics import (ReaLAccuracy, SubsetAccuracy, imagenet_synsets, load_real_labels,
                      subset_indices, subset_synsets)

__all__ = ['ImageNetV2', 'convert_eva01_classifier', 'is_eva01_classifier', 'ReaLAccuracy', 'SubsetAccuracy', 'imagenet_synsets',
           'load_real_labels', 'subset_indices', 'subset_synsets']
