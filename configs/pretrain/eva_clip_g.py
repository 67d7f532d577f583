# EVA-CLIP g (SPEC §3): 1.1B CLIP, EVA-g image tower from the EVA MIM checkpoint, OpenAI
# CLIP-L text tower, LAION-400M, 11B samples, batch 41k, fp16 dynamic loss scale; zero-shot
# ImageNet-1K evaluation with prompt templates. Official model: EVA-01/clip/README.md and
# EVA-01/clip/model_configs/EVA_CLIP_g_14.json (towers, vision drop path 0.4); the training
# run's optimiser settings were never published (placeholders, marked, in
# ../_base_/schedules/pretrain_clip_11b-samples.py). Launch: total batch 40,960 = 256
# processes x 160 images; DDP, per node of 8 GPUs (32 nodes):
#   bash tools/dist_train.sh configs/pretrain/eva_clip_g.py 8
# Export for open_clip: python tools/export_open_clip.py CONFIG CKPT OUT_DIR --name eva-clip-g
_base_ = [
    '../_base_/models/pretrain_eva-clip-g.py',
    '../_base_/datasets/pretrain_laion400m_224.py',
    '../_base_/schedules/pretrain_clip_11b-samples.py',
]
