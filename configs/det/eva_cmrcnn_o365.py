# EVA-g Cascade R-CNN, Objects365 v2 at 1024 (boxes only: O365 has no masks): the
# intermediate detection fine-tune whose weights initialise the COCO and LVIS detectors.
_base_ = [
    '../_base_/models/det_eva_cmrcnn.py', '../_base_/datasets/det_o365_lsj_1024.py',
    '../_base_/schedules/det_eva01_runtime.py'
]
num_classes = 365
square_size = 1024  # square pad and global rel-pos tables (127 rows) at the O365 size
model = dict(
    data_preprocessor=dict(pad_size_divisor=square_size),
    roi_head=dict(
        bbox_head=[dict(h, num_classes=num_classes) for h in _base_.model.roi_head.bbox_head],
        mask_roi_extractor=None,
        mask_head=None),
    # 14->16 converted EVA-g MIM weights (tools/model_converters; SPEC §4)
    backbone=dict(rel_pos_img_size=square_size,
                  init_cfg=dict(type='Pretrained', checkpoint='checkpoints/eva_psz14to16.pt')))
# Objects365 run (RECIPES.md): batch 128 (launch: tools/dist_train.sh CONFIG 64 with 2 images
# per process, or 128 x 1), lr 1e-4 constant after a 15,000-iteration linear warm-up (factor
# 0.001), 350,057 iterations (the released log; the README says 380k).
max_iters = 350057
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters // 10)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=15000),
]
optim_wrapper = dict(optimizer=dict(lr=1e-4))
train_dataloader = dict(batch_size=2)  # x 64 processes = 128
auto_scale_lr = dict(base_batch_size=128)  # see det_eva01_runtime.py
