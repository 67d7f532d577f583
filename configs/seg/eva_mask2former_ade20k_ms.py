# Multi-scale (short side 512..1280, 7 scales) + flip test of eva_mask2former_ade20k.py, as the
# official EVA-01 ADE20K evaluation (EVA-01/seg/configs/ade20k/
# eva_mask2former_896_20k_coco164k2ade20k_ms.py; log EVA-01/logs/sem_seg/
# ft_ade20k_sem_seg_ms_62p3.txt: 62.3 mIoU): each scale resized to multiples of 32 and padded
# to at least 896 x 896 (eva_mm.PadShortSide), the pad cropped off the prediction
# (eva_mm.EncoderDecoder), softmax averaged. Same as
# `tools/test.py eva_mask2former_ade20k.py CKPT --tta`.
_base_ = ['./eva_mask2former_ade20k.py']
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
