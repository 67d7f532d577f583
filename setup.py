"""eva_mm: the EVA vision foundation model for the OpenMMLab 2.x/3.x ecosystem."""
from setuptools import find_packages, setup

setup(
    name='eva_mm',
    version='0.1.0',
    description='EVA (MIM on CLIP features) ViT for mmdet, mmseg, mmaction2, mmpretrain',
    packages=find_packages(include=['eva_mm', 'eva_mm.*']),
    python_requires='>=3.11',
)
