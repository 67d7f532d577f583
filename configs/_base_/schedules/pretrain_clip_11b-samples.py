# EVA-CLIP schedule (SPEC §3): 11B samples seen at batch 40,960 (160 x 256 GPUs) =
# 268,554 iterations; fp16 with dynamic loss scaling (DeepSpeed ZeRO-1 in the paper:
# configs/pretrain/eva_clip_g_deepspeed.py).
# UNPUBLISHED -- the one place for them: EVA-CLIP's optimiser settings were never published
# (neither in EVA-01/clip/ nor in the paper; ../shared/RECIPES.md), so the values below are
# open_clip-style placeholders, not the EVA-CLIP run's: AdamW lr 5e-4, betas (0.9, 0.98),
# eps 1e-6, weight decay 0.05 (none on norms, biases, embeddings and the temperature), 2,000
# linear warm-up iterations, cosine to 0. eva_clip_g_deepspeed.py reuses them; override here
# (or with --cfg-options) when better values are known.
# Launch: total batch 40,960 = 256 processes x 160 (tools/dist_train.sh per node, 32 nodes
# x 8); auto_scale_lr is off: `tools/train.py --auto-scale-lr` scales the lr linearly when a
# launch's total batch differs.
samples_seen = 11_000_000_000
global_batch = 160 * 256
max_iters = samples_seen // global_batch
warmup_iters = 2000
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='float16',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0,
        custom_keys={'logit_scale': dict(decay_mult=0.0), 'pos_embed': dict(decay_mult=0.0),
                     'cls_token': dict(decay_mult=0.0), 'positional_embedding':
                     dict(decay_mult=0.0), 'token_embedding': dict(decay_mult=0.0),
                     'q_bias': dict(decay_mult=0.0), 'v_bias': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', T_max=max_iters - warmup_iters, eta_min=0.0,
         by_epoch=False, begin=warmup_iters, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=global_batch)
