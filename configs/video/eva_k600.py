# EVA-g video on Kinetics-600 = the official EVA-01 fine-tune (EVA-01/video/configs/
# kinetics600_ft.yaml; /work/shared/RECIPES.md "Video"): as eva_k400.py (K722 model incl. the
# head through the K722 -> K600 class mapping, constant lr 1e-6, layer decay 0.95, same
# augmentations and launch: 64 GPUs x 1 x 4 accumulation = total 256), but 2 epochs.
# Evaluation 16 x 3 crops x 4 clips. Paper top-1: 89.8.
_base_ = ['eva_k400.py']
train_cfg = dict(max_epochs=2)  # official kinetics600_ft.yaml EPOCHS 2
class_mapping = 'data/k722/k722_to_k600_mapping.npy'
model = dict(cls_head=dict(num_classes=600, class_mapping=class_mapping))
pretrained_weights = {
    'model.cls_head.class_mapping':
    'tools/data/build_k722.py writes data/k722/k722_to_k600_mapping.npy'}
train_dataloader = dict(dataset=dict(
    ann_file='data/kinetics600/kinetics600_train_list_videos.txt',
    data_prefix=dict(video='data/kinetics600/videos_train')))
val_dataloader = dict(dataset=dict(
    ann_file='data/kinetics600/kinetics600_val_list_videos.txt',
    data_prefix=dict(video='data/kinetics600/videos_val')))
test_dataloader = val_dataloader
