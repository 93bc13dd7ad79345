# UniMatch's ACDC schedule: SGD 0.01 / 0.9 / 1e-4, poly(0.9) per iteration, ~30k iterations
# (300 epochs of about 100 iterations), validation on `val` keeping the best checkpoint by mDice.
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4)
# Mixed precision (CUDA): `tools/train.py CONFIG --amp` switches to mmengine's AmpOptimWrapper (fp16 with dynamic
# loss scaling); add `--cfg-options optim_wrapper.dtype=bfloat16 --allow-new-keys` for bf16 (A100/H100: no overflow to
# guard against). Losses and pseudo-label confidences stay fp32 either way; benchmarks/gpu.sh compares the demo Dice.
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
# The lr is for a total labeled batch of 12 per step (the dataset base's batch_size, a total over all processes).
# mmengine's linear scaling, for a run with another total batch: --cfg-options auto_scale_lr.enable=True.
auto_scale_lr = dict(enable=False, base_batch_size=12)
max_iters = 30000
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='SemiSupervisedIterLoop', max_iters=max_iters, val_interval=500)
val_cfg = dict(type='ValLoop')
# mmengine's TestLoop whose dataset follows a data_root override also in mmseg's own tools/test.py
test_cfg = dict(type='AIGCMatchTestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook with atomic writes: a kill or a full disk never loses the last or the
    # best checkpoint (the previous one is removed only after the new one is complete)
    checkpoint=dict(
        type='AtomicCheckpointHook',
        by_epoch=False,
        interval=3000,
        max_keep_ckpts=2,
        save_best='mDice',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='MedicalSegVisualizationHook', draw=False, interval=50))
