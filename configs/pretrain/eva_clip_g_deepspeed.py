# EVA-CLIP g as the paper trained it (SPEC §3): DeepSpeed ZeRO stage 1, fp16 with dynamic
# loss scaling (FlexibleRunner + DeepSpeedStrategy), activation checkpointing in the EVA tower.
# Model: EVA-01/clip/model_configs/EVA_CLIP_g_14.json (through eva_clip_g.py).
# UNPUBLISHED: the EVA-CLIP training code and its DeepSpeed settings were never released; the
# fp16 loss-scale values below are DeepSpeed's usual ones, the optimiser comes from the one
# marked place (configs/_base_/schedules/pretrain_clip_11b-samples.py).
# Launch: total batch 40,960 = 256 processes x 160 images, as eva_clip_g.py.
#   bash tools/dist_train.sh configs/pretrain/eva_clip_g_deepspeed.py 8
# CPU check (tiny arch, bf16 in place of fp16, 2 processes, --resume):
#   tests/test_pretrain_deepspeed_layouts.py
_base_ = ['./eva_clip_g.py']
runner_type = 'FlexibleRunner'
model = dict(vision=dict(with_cp=True))
strategy = dict(
    type='DeepSpeedStrategy',
    fp16=dict(enabled=True, loss_scale=0, initial_scale_power=16, loss_scale_window=1000,
              hysteresis=2, min_loss_scale=1),
    inputs_to_half=['inputs'],
    zero_optimization=dict(stage=1, allgather_partitions=True, reduce_scatter=True,
                           overlap_comm=True, contiguous_gradients=True),
    train_micro_batch_size_per_gpu={{_base_.train_dataloader.batch_size}})
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}},
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}})
