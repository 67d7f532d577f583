"""The EVA backbone and its checkpoint conversion."""
from .checkpoint import (CheckpointError, ConversionReport, adapt_geometry, convert_state_dict,
                         detect_layout, load_pretrained, load_state_dict_into, read_checkpoint,
                         save_checkpoint_atomic, unwrap_checkpoint)
from .eva_vit import EVABlock, EVAViT, vitdet_global_blocks, vitdet_window_blocks

__all__ = [
    'EVABlock', 'EVAViT', 'vitdet_global_blocks', 'vitdet_window_blocks', 'CheckpointError',
    'ConversionReport', 'adapt_geometry', 'convert_state_dict', 'detect_layout',
    'load_pretrained', 'load_state_dict_into', 'read_checkpoint', 'save_checkpoint_atomic',
    'unwrap_checkpoint'
]
