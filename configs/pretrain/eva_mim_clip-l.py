# EVA MIM pre-training (SPEC §2): EVA-g student, OpenAI CLIP-L/14 teacher, 29.6M images,
# 150 epochs, batch 4096 (32 per GPU x 128), AdamW 1e-3, fp16 dynamic loss scale, as the
# official run (EVA-01/eva/README.md "Pre-train EVA on the merged-30M image dataset" command,
# EVA-01/eva/run_eva_pretraining.py; log EVA-01/logs/pt/eva_mim_pt_30m_150ep_log.txt).
# Launch: total batch 4096 = 128 processes x 32 images; DDP:
#   bash tools/dist_train.sh configs/pretrain/eva_mim_clip-l.py 8   # per node, 16 nodes
# The paper ran DeepSpeed ZeRO-1: configs/pretrain/eva_mim_clip-l_deepspeed.py.
_base_ = [
    '../_base_/models/pretrain_eva-g_mim_clip-l.py',
    '../_base_/datasets/pretrain_merged30m_mim_224.py',
    '../_base_/schedules/pretrain_mim_150e.py',
]
