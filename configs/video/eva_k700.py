# EVA-g video on Kinetics-700: as eva_k400.py (2 epochs from the K722 model, 16 x 3 x 4 test).
# Paper top-1: 82.9.
_base_ = ['eva_k400.py']
class_mapping = 'data/k722/k722_to_k700_mapping.npy'
model = dict(cls_head=dict(num_classes=700, class_mapping=class_mapping))
pretrained_weights = {
    'model.cls_head.class_mapping':
    'tools/data/build_k722.py writes data/k722/k722_to_k700_mapping.npy'}
train_dataloader = dict(dataset=dict(
    ann_file='data/kinetics700/kinetics700_train_list_videos.txt',
    data_prefix=dict(video='data/kinetics700/videos_train')))
val_dataloader = dict(dataset=dict(
    ann_file='data/kinetics700/kinetics700_val_list_videos.txt',
    data_prefix=dict(video='data/kinetics700/videos_val')))
test_dataloader = val_dataloader
