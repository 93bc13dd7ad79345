"""The two training steps ``train_step.py`` times, and the batches they get.

:class:`OursRunner` steps our model (a config's ``model``) through mmengine's
``model.train_step`` in one *variant* (:func:`parse_variant`: precision,
channels-last, ``torch.compile``); :class:`ReferenceRunner` is UniMatch's step
(``unimatch_reference_step.py``) on the config's network or UniMatch's plain
decoder. :func:`make_batch` builds one step's host data in both collated forms
from the same images. Each runner is a callable ``runner(batch)`` with a
``name``; ``step_measure.py`` times and measures them.
"""
import os.path as osp
import sys
from typing import Dict, Optional

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(HERE))
sys.path.insert(0, HERE)

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.optim import OptimWrapper  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402

import projects.aigcmatch  # noqa: E402,F401  (compat first, registration)
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from unimatch_reference_step import (UniMatchReferenceStep,  # noqa: E402
                                     random_boxes)

PRECISIONS = dict(fp32=None, bf16=torch.bfloat16, fp16=torch.float16)
FLAGS = ('cl', 'compile')


# ---------------------------------------------------------------------- #
# variants
# ---------------------------------------------------------------------- #
def parse_variant(text: str) -> dict:
    """``'bf16+cl+compile'`` -> dict(name=..., precision='bf16', cl=True,
    compile=True). Tokens: one of fp32 / bf16 / fp16 (default fp32), and
    any of ``cl`` (channels-last) and ``compile``."""
    tokens = [t for t in text.strip().split('+') if t]
    precision = [t for t in tokens if t in PRECISIONS]
    unknown = [t for t in tokens if t not in PRECISIONS and t not in FLAGS]
    if unknown or len(precision) > 1 or not tokens:
        raise ValueError(
            f'--variants: bad variant {text!r}; expected tokens joined by '
            f'"+": one of {sorted(PRECISIONS)} and any of {list(FLAGS)}, '
            'e.g. "bf16+cl"')
    return dict(
        name=text.strip(),
        precision=(precision or ['fp32'])[0],
        cl='cl' in tokens,
        compile='compile' in tokens)


def build_optim_wrapper(model, cfg: Config, device: torch.device,
                        precision: str):
    """The config's SGD in the wrapper the tools would use for it."""
    opt_cfg = dict(cfg.optim_wrapper.optimizer)
    kind = opt_cfg.pop('type', 'SGD')
    optimizer = getattr(torch.optim, kind)(model.parameters(), **opt_cfg)
    dtype = PRECISIONS[precision]
    if dtype is None:
        return OptimWrapper(optimizer=optimizer)
    if device.type == 'cuda':
        from mmengine.optim import AmpOptimWrapper
        return AmpOptimWrapper(optimizer=optimizer, dtype=dtype)
    if dtype is not torch.bfloat16:
        raise ValueError(f'--variants: {precision} needs CUDA; on the CPU '
                         'mixed precision is bf16')
    # what tools/train.py --amp trains with on a CPU with bf16 kernels
    from projects.aigcmatch.engine import CPUAutocastOptimWrapper
    return CPUAutocastOptimWrapper(optimizer=optimizer)


class OursRunner:
    """Our model stepped as mmengine's runner steps it."""

    def __init__(self, cfg: Config, variant: dict, device: torch.device,
                 compile_options: Optional[dict] = None):
        model_cfg = cfg.model.copy()
        model_cfg['channels_last'] = variant['cl']
        model_cfg['torch_compile'] = (dict(compile_options or {})
                                      if variant['compile'] else False)
        self.name = 'ours[' + variant['name'] + ']'
        self.variant = variant
        self.model = MODELS.build(model_cfg).to(device)
        self.model.init_weights()
        self.model.train()
        self.optim_wrapper = build_optim_wrapper(self.model, cfg, device,
                                                 variant['precision'])

    def __call__(self, batch: dict) -> Dict[str, float]:
        log_vars = self.step_only(batch)
        return {k: v.item() for k, v in log_vars.items()}

    def step_only(self, batch: dict) -> Dict[str, torch.Tensor]:
        """``model.train_step``: preprocessing, forward, backward, update."""
        return self.model.train_step(batch['ours'], self.optim_wrapper)


class ReferenceRunner:
    """UniMatch's step on the config's encoder and decode head (``head=
    'same'``), or on UniMatch's plain UNet decoder (``head='plain'``: the
    head without attention)."""

    def __init__(self, cfg: Config, device: torch.device, head: str = 'same'):
        self.name = 'reference'
        head_cfg = cfg.model.decode_head.copy()
        if head == 'plain':
            head_cfg['attention'] = False
        encoder = MODELS.build(cfg.model.backbone)
        decoder = MODELS.build(head_cfg)
        encoder.init_weights()
        decoder.init_weights()
        lr = cfg.optim_wrapper.optimizer.get('lr', 0.01)
        self.step = UniMatchReferenceStep(
            encoder,
            decoder,
            num_classes=head_cfg['num_classes'],
            lr=lr,
            conf_thresh=cfg.model.get('conf_thresh', 0.95),
            device=device)

    def __call__(self, batch: dict) -> Dict[str, float]:
        return self.step.step(batch['reference'])


# ---------------------------------------------------------------------- #
# batches
# ---------------------------------------------------------------------- #
def make_batch(batch_size: int, crop: int, num_classes: int, pin: bool,
               generator: torch.Generator) -> dict:
    """One step's host data in both collated forms, sharing the images."""

    def images():
        out = torch.rand(batch_size, 1, crop, crop, generator=generator)
        return out.pin_memory() if pin else out

    def labels():
        # Blocky labels: a coarse random map upsampled, like organ regions.
        coarse = torch.randint(
            0, num_classes, (batch_size, 1, crop // 16 or 1, crop // 16 or 1),
            generator=generator)
        out = torch.nn.functional.interpolate(
            coarse.float(), size=(crop, crop), mode='nearest').long()[:, 0]
        return out.pin_memory() if pin else out

    x, y = images(), labels()
    u = dict(weak=images(), strong1=images(), strong2=images())
    mix = dict(weak=images(), strong1=images(), strong2=images())
    meta = dict(img_shape=(crop, crop), ori_shape=(crop, crop))

    labeled_samples = []
    for i in range(batch_size):
        sample = SegDataSample(metainfo=dict(meta))
        sample.gt_sem_seg = PixelData(data=y[i:i + 1])
        labeled_samples.append(sample)
    ours = dict(
        labeled=dict(
            inputs=[x[i] for i in range(batch_size)],
            data_samples=labeled_samples),
        unlabeled=dict(
            inputs={
                name: [view[i] for i in range(batch_size)]
                for name, view in u.items()
            },
            data_samples=[
                SegDataSample(metainfo=dict(meta)) for _ in range(batch_size)
            ]))
    reference = dict(
        img_x=x,
        mask_x=y,
        img_u_w=u['weak'],
        img_u_s1=u['strong1'],
        img_u_s2=u['strong2'],
        img_u_w_mix=mix['weak'],
        img_u_s1_mix=mix['strong1'],
        img_u_s2_mix=mix['strong2'],
        box1=random_boxes(batch_size, (crop, crop), generator=generator),
        box2=random_boxes(batch_size, (crop, crop), generator=generator))
    if pin:
        reference = {k: v.pin_memory() for k, v in reference.items()}
    return dict(ours=ours, reference=reference)




def compile_options(args) -> dict:
    """``torch.compile`` options of the "compile" variants
    (``--compile-backend``)."""
    return {} if args.compile_backend is None else dict(
        backend=args.compile_backend)
