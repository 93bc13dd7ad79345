# Runtime shared by every config: scope, hooks, logging, environment.
default_scope = 'mmseg'
custom_imports = dict(imports=['projects.aigcmatch'], allow_failed_imports=False)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # becomes gloo on machines without CUDA
)
# mmengine's Runner that keeps the experiment on any number of processes and in any tool (mmseg's
# tools/train.py and tools/test.py, mim train/test build it too): training batches are totals split over
# the processes (batch_size_scope), the log states world size, batch and lr, and overrides of
# train_cfg.max_iters / data_root move the schedule / re-point the datasets (projects/aigcmatch/engine/runner.py).
runner_type = 'AIGCMatchRunner'
# DDP that also wraps CPU modules (mmengine's passes GPU device_ids).
model_wrapper_cfg = dict(type='DeviceAwareDistributedDataParallel')

# Overlays of 1-channel slices (tools/test.py --show-dir DIR); TensorBoard too when installed.
visualizer = dict(
    type='MedicalSegVisualizer', vis_backends='auto', name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
# Reliability (docs/reliability.md): refuse an unsafe checkpoint before loading it, save/restore the
# random streams for an exact --resume, stop on a NaN/inf loss (naming the term and iteration).
custom_hooks = [
    dict(type='SafeCheckpointHook'),
    dict(type='RandomStateHook'),
    dict(type='NonFiniteLossHook'),
]
