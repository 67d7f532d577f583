# LVIS v1 instances: the COCO LSJ-1280 recipe (pipelines, TTA) with repeat-factor sampling
# (threshold 0.001) and LVIS evaluation through lvis-api (mmdet's LVISMetric).
# SPEC §3: as COCO, plus federated loss + RFS.
_base_ = ['./det_coco_lsj_1280.py']
dataset_type = 'eva_mm.CheckedLVISV1Dataset'
data_root = 'data/lvis_v1/'
backend_args = None

tta_model = dict(tta_cfg=dict(max_per_img=300))

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',  # repeat-factor sampling (LVIS paper / detectron2 RFS)
        oversample_thr=1e-3,
        dataset=dict(type=dataset_type, data_root=data_root,
                     ann_file='annotations/lvis_v1_train.json', data_prefix=dict(img=''),
                     filter_cfg=dict(filter_empty_gt=True, min_size=32),
                     pipeline={{_base_.train_pipeline}}, backend_args=backend_args)))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/lvis_v1_val.json', data_prefix=dict(img='')))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='LVISMetric',
                     ann_file=data_root + 'annotations/lvis_v1_val.json',
                     metric=['bbox', 'segm'], backend_args=backend_args)
test_evaluator = val_evaluator
