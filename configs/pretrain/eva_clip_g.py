# EVA-CLIP g (SPEC §3): 1.1B CLIP, EVA-g image tower from the EVA MIM checkpoint, OpenAI
# CLIP-L text tower, LAION-400M, 11B samples, batch 41k, fp16 dynamic loss scale; zero-shot
# ImageNet-1K evaluation with prompt templates. DDP:
#   bash tools/dist_train.sh configs/pretrain/eva_clip_g.py 8
# Export for open_clip: python tools/export_open_clip.py CONFIG CKPT OUT_DIR --name eva-clip-g
_base_ = [
    '../_base_/models/pretrain_eva-clip-g.py',
    '../_base_/datasets/pretrain_laion400m_224.py',
    '../_base_/schedules/pretrain_clip_11b-samples.py',
]
