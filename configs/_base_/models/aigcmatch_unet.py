# The weak-to-strong model: UniMatch-size UNet encoder + UNet head (AttUNetHead; CBAM modules only with attention=True). Method configs choose
# the two perturbation hooks (image_perturbation, feature_perturbation), which are off (None) unless set.
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN: set sync_bn='torch' for multi-GPU
# Slices are min-max normalised by the dataset already: mean/std None skips a (x - 0) / 1 per image.
data_preprocessor = dict(
    type='MultiBranchSegDataPreProcessor',
    mean=None,
    std=None,
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=16)
model = dict(
    type='WeakToStrongSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='UNetEncoder',
        in_channels=1,
        channels=(16, 32, 64, 128, 256),
        dropout=(0.05, 0.1, 0.2, 0.3, 0.5),
        norm_cfg=norm_cfg),
    decode_head=dict(
        type='AttUNetHead',
        in_channels=[16, 32, 64, 128, 256],
        in_index=[0, 1, 2, 3, 4],
        channels=16,
        num_classes=4,
        attention=True,
        # bilinear upsampling (1x1 conv + resize) gives UniMatch's 1.8 M parameters
        upsample='bilinear',
        dropout_ratio=0.0,
        norm_cfg=norm_cfg,
        align_corners=False,
        # Labels are checked when loaded (against the dataset's classes, which the tools check
        # against num_classes), so the Dice loss skips its per-step check (a GPU sync).
        loss_decode=[
            dict(type='CrossEntropyLoss', loss_weight=0.5),
            dict(type='MaskedDiceLoss', loss_weight=0.5, check_targets=False),
        ]),
    # pseudo-labels are an argmax, valid by construction: no label check (a GPU sync)
    unsup_loss=dict(type='MaskedDiceLoss', check_targets=False),
    conf_thresh=0.95,
    strong_views=('strong1', 'strong2'),
    loss_weights=dict(labeled=1.0, strong=0.5, fp=0.5),
    loss_normalizer=2.0,
    mix_source='batch',  # CutMix partner: another image of the unlabeled batch ('loader': UniMatch's)
    # Perturbed features decoded in one pass with the clean ones (UniMatch's way; 'separate': a pass of their
    # own). On the method benchmark 'separate' failed on 4 of 10 real-MRI seeds (docs/design_decisions.md).
    fp_decode='joint',
    bn_stats='clean',  # only the clean pass updates the BN running statistics ('all': UniMatch's)
    # PyTorch's default conv weights, as UniMatch's plain nn.Conv2d layers start (mmcv's ConvModule init,
    # 'kaiming', starts 2.4x larger and trained far slower on the benchmark: docs/benchmark.md)
    conv_init='pytorch',
    # Speed switches (benchmarks/README.md): NHWC weights and images (faster convolutions, same values up to
    # rounding); torch.compile of backbone and head (True or a dict of torch.compile arguments; falls back to
    # eager with a warning when compilation fails). Mixed precision is the optimizer wrapper's: tools/train.py --amp.
    channels_last=True,
    torch_compile=False,
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
