# EVA MIM pre-training as the paper ran it (SPEC §2): DeepSpeed ZeRO stage 1, fp16 with
# dynamic loss scaling, through mmengine's FlexibleRunner + DeepSpeedStrategy; activation
# checkpointing per EVA block (with_cp) so it fits 24 GB GPUs. The DeepSpeed settings are the
# official ones (EVA-01/eva/utils.py create_ds_config: fp16 loss_scale 0 = dynamic,
# initial_scale_power 16, loss_scale_window 500, hysteresis 2, min_loss_scale 1; ZeRO stage 1;
# gradient_clipping = --clip_grad 3.0 of the EVA-01/eva/README.md pre-training command).
# Launch: total batch 4096 = 128 processes x 32 images (16 nodes x 8 GPUs), as eva_mim_clip-l.py.
#   bash tools/dist_train.sh configs/pretrain/eva_mim_clip-l_deepspeed.py 8
# CPU check (tiny arch, bf16 in place of fp16, 2 processes, --resume):
#   tests/test_pretrain_deepspeed_layouts.py
_base_ = ['./eva_mim_clip-l.py']
runner_type = 'FlexibleRunner'
model = dict(backbone=dict(with_cp=True))
strategy = dict(
    type='DeepSpeedStrategy',
    fp16=dict(enabled=True, loss_scale=0, initial_scale_power=16, loss_scale_window=500,
              hysteresis=2, min_loss_scale=1),  # loss_scale=0: dynamic
    zero_optimization=dict(stage=1, allgather_partitions=True, reduce_scatter=True,
                           overlap_comm=True, contiguous_gradients=True),
    inputs_to_half=['inputs'],
    gradient_clipping=3.0,
    train_micro_batch_size_per_gpu={{_base_.train_dataloader.batch_size}})
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}},
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
