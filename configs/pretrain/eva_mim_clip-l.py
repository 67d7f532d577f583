# EVA MIM pre-training (SPEC §2): EVA-g student, OpenAI CLIP-L/14 teacher, 29.6M images,
# 150 epochs, batch 4096 (32 per GPU x 128), AdamW 1e-3, fp16 dynamic loss scale, DDP:
#   bash tools/dist_train.sh configs/pretrain/eva_mim_clip-l.py 8   # per node, 16 nodes
# The paper ran DeepSpeed ZeRO-1: configs/pretrain/eva_mim_clip-l_deepspeed.py.
_base_ = [
    '../_base_/models/pretrain_eva-g_mim_clip-l.py',
    '../_base_/datasets/pretrain_merged30m_mim_224.py',
    '../_base_/schedules/pretrain_mim_150e.py',
]
