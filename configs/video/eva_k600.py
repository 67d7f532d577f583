# EVA-g video on Kinetics-600: as eva_k400.py (2 epochs from the K722 model, 16 x 3 x 4 test).
# Paper top-1: 89.8.
_base_ = ['eva_k400.py']
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
