# The tiny MIM run through mmengine's FlexibleRunner + DeepSpeedStrategy, ZeRO stage 1.
# On CPU DeepSpeed has no fp16 ("Type fp16 is not supported on your device"), so this runs
# bf16; the paper-scale eva_mim_clip-l_deepspeed.py keeps fp16 + dynamic loss scaling (GPUs).
#   bash tools/dist_train.sh configs/pretrain/eva-tiny_mim_shapes_deepspeed.py 2
_base_ = ['./eva-tiny_mim_shapes.py']
runner_type = 'FlexibleRunner'
model = dict(backbone=dict(with_cp=True))
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    inputs_to_half=['inputs'],
    zero_optimization=dict(stage=1),
    gradient_clipping=3.0,
    train_micro_batch_size_per_gpu={{_base_.train_dataloader.batch_size}})
optim_wrapper = dict(_delete_=True, type='DeepSpeedOptimWrapper',
                     optimizer={{_base_.optim_wrapper.optimizer}})
