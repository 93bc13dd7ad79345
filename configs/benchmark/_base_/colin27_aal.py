# The method benchmark's real-MRI setting (tools/benchmark_methods.py, docs/benchmark.md): the Colin27
# T1 brain MRI with its hand-drawn AAL atlas grouped into cortex / deep grey nuclei / cerebellum
# (tools/dataset_converters/colin27_aal_to_h5.py), 24 sagittal slabs of 4 slices as cases: 2 labeled,
# 10 unlabeled, 4 val, 8 test. Same crop, batch and schedule as ./synthetic.py.
_base_ = ['./synthetic.py']

data_root = 'data/colin27_aal'
metainfo = dict(
    classes=('background', 'cortex', 'deep_grey', 'cerebellum'),
    palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])
# Split files written by the converter into data_root/splits (paths are tried under data_root).
train_dataloader = dict(
    dataset=dict(type='H5SliceDataset', data_root=data_root, metainfo=metainfo, split='splits/labeled.txt'))
unlabeled_dataloader = dict(
    dataset=dict(type='H5SliceDataset', data_root=data_root, metainfo=metainfo, split='splits/unlabeled.txt'))
mix_dataloader = unlabeled_dataloader
val_dataloader = dict(
    dataset=dict(type='H5SliceDataset', data_root=data_root, metainfo=metainfo, split='splits/val.txt'))
test_dataloader = dict(
    dataset=dict(type='H5SliceDataset', data_root=data_root, metainfo=metainfo, split='splits/test.txt'))
