"""Time our training step against UniMatch's, side by side, in one process.

*Ours* is the model of ``--config`` (default
``configs/aigcmatch_acdc_7case.py``) stepped by mmengine's
``model.train_step`` exactly as the runner does it (data preprocessor,
``loss()``, ``parse_losses``, optimizer wrapper; the logged values read back
with ``.item()`` as mmengine's ``RuntimeInfoHook`` does), in one or
more *variants* (precision, memory format, ``torch.compile``). The
*reference* is UniMatch's step (``unimatch_reference_step.py``): a no-grad
eval pass on a second unlabeled batch for the CutMix partners, labeled + weak
images with clean and Dropout2d features decoded in one pass, both strong
views in one pass; fp32, default memory format, eager, SGD; on the config's
network (``--reference-head same``, default: only the step differs) or on
UniMatch's plain UNet decoder (``plain``: our attention modules' cost counts
against ours too).

Both get the same images (batch B labeled + B unlabeled, crop x crop; the
reference also its B partner images and loader-drawn CutMix boxes), already
collated on the host (pinned when CUDA) as a DataLoader would hand them over,
so the host-to-device copies are part of both steps. After warm-up the steps
are timed interleaved (reference, variant 1, variant 2, ..., the order rotated
every round), so that a busy machine slows them alike; reported: median step
time, images/s ((B labeled + B unlabeled) / step), peak memory (CUDA: the
allocator's peak during two steps of that runner; CPU: the peak resident set
(``VmHWM``) of a fresh process running two steps of that runner alone, and its
growth during them), the ratio reference / variant and, on CUDA, where one
``train_step`` makes the host wait for the GPU. The data pipeline alone is
timed too (``data_pipeline.py``).

Examples::

    python benchmarks/train_step.py                     # GPU if any, B=12, 256
    python benchmarks/train_step.py --device cpu --batch-size 2 --crop 128 \\
        --iters 5 --variants fp32,bf16+cl
    python benchmarks/train_step.py --variants fp32,bf16+cl,bf16+cl+compile \\
        --json results/step.json
"""
import argparse
import gc
import json
import logging
import os
import os.path as osp
import platform
import statistics
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(HERE))
sys.path.insert(0, HERE)

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.optim import OptimWrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402

import projects.aigcmatch  # noqa: E402,F401  (compat first, registration)
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402
from unimatch_reference_step import (UniMatchReferenceStep,  # noqa: E402
                                     random_boxes)

PRECISIONS = dict(fp32=None, bf16=torch.bfloat16, fp16=torch.float16)
FLAGS = ('cl', 'compile')
ITERS_30K = 30000


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


# ---------------------------------------------------------------------- #
# measurement
# ---------------------------------------------------------------------- #
def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


class RssSampler:
    """Peak resident set size while the ``with`` block runs (CPU runs)."""

    def __init__(self, interval: float = 0.002):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def _loop(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(self.interval)

    def __enter__(self):
        self.before = _rss_bytes()
        self.peak = self.before
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def peak_memory(runner: Callable, batches: List[dict], device: torch.device,
                steps: int = 2) -> Dict[str, float]:
    """Peak memory of ``steps`` steps of one runner, in MiB."""
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
        _sync(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        for i in range(steps):
            runner(batches[i % len(batches)])
        _sync(device)
        peak = torch.cuda.max_memory_allocated(device)
        return dict(
            kind='cuda_max_allocated',
            peak_mib=peak / 2**20,
            above_start_mib=(peak - base) / 2**20,
            reserved_mib=torch.cuda.max_memory_reserved(device) / 2**20)
    with RssSampler() as sampler:
        for i in range(steps):
            runner(batches[i % len(batches)])
    return dict(
        kind='cpu_rss',
        peak_mib=sampler.peak / 2**20,
        above_start_mib=(sampler.peak - sampler.before) / 2**20)


class SavedForBackward:
    """Bytes that autograd keeps from the forward pass for the backward pass
    (``torch.autograd.graph.saved_tensors_hooks``), each storage counted once.

    This is the part of a training step's peak memory that grows with batch
    size and resolution, and it does not depend on the device's allocator:
    measured on a CPU it predicts the activation memory on a GPU (where
    dropout saves a 1-byte mask instead of CPU's 4-byte noise tensor, so a
    GPU holds slightly less)."""

    def __init__(self):
        self.storages: Dict[int, int] = {}

    def pack(self, tensor):
        try:
            storage = tensor.untyped_storage()
        except (NotImplementedError, RuntimeError):  # no storage: skip
            return tensor
        self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    @staticmethod
    def unpack(tensor):
        return tensor

    @property
    def mib(self) -> float:
        return sum(self.storages.values()) / 2**20


def saved_for_backward(runner: Callable, batch: dict) -> Dict[str, float]:
    """What one step of ``runner`` saves for backward, in MiB."""
    counter = SavedForBackward()
    with torch.autograd.graph.saved_tensors_hooks(counter.pack,
                                                  counter.unpack):
        runner(batch)
    return dict(saved_mib=counter.mib, storages=len(counter.storages))


def time_interleaved(runners: List, batches: List[dict], warmup: int,
                     iters: int, device: torch.device) -> Dict[str, dict]:
    """Median and spread of each runner's step time, steps interleaved."""
    times = {r.name: [] for r in runners}
    first = {}
    for r in runners:  # warm-up (and compilation) one runner at a time
        for i in range(warmup):
            _sync(device)
            start = time.perf_counter()
            r(batches[i % len(batches)])
            _sync(device)
            if i == 0:
                first[r.name] = time.perf_counter() - start
    for i in range(iters):
        shift = i % len(runners)
        for r in runners[shift:] + runners[:shift]:
            batch = batches[(warmup + i) % len(batches)]
            _sync(device)
            start = time.perf_counter()
            r(batch)
            _sync(device)
            times[r.name].append(time.perf_counter() - start)
    out = {}
    for name, ts in times.items():
        ts_sorted = sorted(ts)
        out[name] = dict(
            median_ms=1000 * statistics.median(ts),
            min_ms=1000 * ts_sorted[0],
            p90_ms=1000 * ts_sorted[min(len(ts) - 1,
                                        int(0.9 * len(ts)))],
            first_step_s=first.get(name))
    return out


def host_syncs(runner, batch: dict) -> dict:
    """Where one ``model.train_step`` makes the host wait for the GPU
    (``torch.cuda.set_sync_debug_mode('warn')``), by source line."""
    import warnings
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('warn')
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            runner.step_only(batch)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    places: Dict[str, int] = {}
    for w in caught:
        if 'synchroniz' not in str(w.message):
            continue
        where = f'{osp.relpath(w.filename)}:{w.lineno}'
        places[where] = places.get(where, 0) + 1
    return dict(count=sum(places.values()), places=places)


def memory_probe(args, cfg: Config, device: torch.device,
                 batches: List[dict]) -> dict:
    """Child process of ``memory_in_subprocess``: two steps of one runner,
    then one line ``MEMORY_PROBE {json}`` on stdout."""
    if args.memory_probe == 'reference':
        runner = ReferenceRunner(cfg, device, args.reference_head)
    else:
        spec = [v for v in args.variant_specs
                if 'ours[' + v['name'] + ']' == args.memory_probe]
        runner = OursRunner(cfg, spec[0], device, compile_options(args))
    gc.collect()
    before = _rss_bytes()
    for i in range(2):
        runner(batches[i % len(batches)])
    # VmHWM: this process image's peak. (ru_maxrss would start from the
    # parent's size: Linux carries it over fork + exec.)
    with open('/proc/self/status') as f:
        peak = [int(line.split()[1]) * 1024 for line in f
                if line.startswith('VmHWM:')][0]
    out = dict(kind='cpu_rss_own_process', peak_mib=peak / 2**20,
               above_start_mib=(peak - before) / 2**20)
    print('MEMORY_PROBE ' + json.dumps(out), flush=True)
    return out


def memory_in_subprocess(argv: Optional[List[str]], runner) -> dict:
    """Peak RSS of two steps of ``runner`` alone, in a fresh process."""
    import subprocess
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = [sys.executable, osp.abspath(__file__)] + argv + [
        '--memory-probe', runner.name, '--data-workers', '--memory', 'none'
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith('MEMORY_PROBE '):
            return json.loads(line[len('MEMORY_PROBE '):])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    print(f'memory probe of {runner.name} failed: {tail}')
    return dict(kind='failed', peak_mib=float('nan'),
                above_start_mib=float('nan'))


def profile_step(runner, batch: dict, device: torch.device,
                 rows: int = 12) -> None:
    """Print the operators that take most time in one step."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if device.type == 'cuda':
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        runner(batch)
        _sync(device)
    key = ('self_cuda_time_total'
           if device.type == 'cuda' else 'self_cpu_time_total')
    print(f'profile of one step of {runner.name}:')
    print(prof.key_averages().table(sort_by=key, row_limit=rows,
                                    max_name_column_width=40))


def compile_options(args) -> dict:
    return {} if args.compile_backend is None else dict(
        backend=args.compile_backend)


def pick_device(name: str) -> torch.device:
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    device = torch.device(name)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('error: --device cuda, but torch sees no CUDA '
                         'device (torch.cuda.is_available() is False)')
    return device


def describe_machine(device: torch.device) -> dict:
    info = dict(
        python=platform.python_version(),
        torch=torch.__version__,
        device=str(device),
        threads=torch.get_num_threads(),
        cpu_count=os.cpu_count())
    try:
        info['load_avg_1m'] = os.getloadavg()[0]
    except OSError:
        pass
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
        info['cuda'] = torch.version.cuda
    return info


# ---------------------------------------------------------------------- #
# main
# ---------------------------------------------------------------------- #
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default='configs/aigcmatch_acdc_7case.py')
    parser.add_argument('--batch-size', type=int, default=12,
                        help='labeled = unlabeled batch size (UniMatch: 12)')
    parser.add_argument('--crop', type=int, default=256)
    parser.add_argument('--iters', type=int, default=20,
                        help='timed steps per runner')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', default='auto',
                        help='auto | cpu | cuda | cuda:N')
    parser.add_argument(
        '--variants',
        default=None,
        help='comma-separated variants of ours, each tokens joined by "+": '
        'fp32|bf16|fp16, cl (channels-last), compile. Default: the one '
        'given by --amp/--channels-last/--compile')
    parser.add_argument('--amp', choices=('off', 'bf16', 'fp16'),
                        default='off', help='precision of the default variant')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last in the default variant')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile in the default variant')
    parser.add_argument('--compile-backend', default=None,
                        help='torch.compile backend of "compile" variants '
                        '(default: inductor; aot_eager checks tracing only)')
    parser.add_argument('--no-reference', action='store_true')
    parser.add_argument(
        '--reference-head',
        choices=('same', 'plain'),
        default='same',
        help='network of the reference step: the config\'s (same: only the '
        'step differs) or UniMatch\'s plain UNet decoder (plain: also '
        'without our attention modules)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (CPU runs)')
    parser.add_argument('--num-batches', type=int, default=4,
                        help='distinct host batches cycled through')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--data-workers', type=int, nargs='*',
                        default=[0, 1, 2, 4],
                        help='worker counts for the data pipeline timing '
                        '(none: skip it)')
    parser.add_argument('--data-batches', type=int, default=10)
    parser.add_argument('--data-patients', type=int, default=4)
    parser.add_argument(
        '--memory',
        choices=('auto', 'inprocess', 'subprocess', 'none'),
        default='auto',
        help='peak memory: in this process (CUDA allocator peak), in a '
        'fresh process per runner (RSS; what CPU runs need, as the '
        'allocator keeps freed pages), or not at all. auto: inprocess on '
        'CUDA, subprocess on CPU')
    parser.add_argument('--profile', action='store_true',
                        help='print the top operators of one step of each '
                        'runner (torch.profiler)')
    parser.add_argument('--json', default=None,
                        help='write all results to this JSON file')
    parser.add_argument('--memory-probe', default=None,
                        help=argparse.SUPPRESS)  # internal: one runner
    args = parser.parse_args(argv)
    if args.variants is None:
        precision = 'fp32' if args.amp == 'off' else args.amp
        tokens = [precision] + (['cl'] if args.channels_last else []) + (
            ['compile'] if args.compile else [])
        args.variants = '+'.join(tokens)
    args.variant_specs = [parse_variant(v) for v in args.variants.split(',')]
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    init_default_scope('mmseg')
    # init_weights reports every parameter at INFO level
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    cfg = Config.fromfile(args.config)
    num_classes = cfg.model.decode_head.num_classes
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # fixed shapes, as in training
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    batches = [
        make_batch(args.batch_size, args.crop, num_classes,
                   device.type == 'cuda', generator)
        for _ in range(args.num_batches)
    ]

    if args.memory_probe is not None:
        return memory_probe(args, cfg, device, batches)
    runners = [] if args.no_reference else [
        ReferenceRunner(cfg, device, args.reference_head)
    ]
    runners += [
        OursRunner(cfg, v, device, compile_options(args))
        for v in args.variant_specs
    ]
    machine = describe_machine(device)
    print(f'machine: {machine}')
    print(f'step: batch {args.batch_size} labeled + {args.batch_size} '
          f'unlabeled (+{args.batch_size} CutMix partners for the '
          f'reference), crop {args.crop}, {args.iters} timed steps each after '
          f'{args.warmup} warm-up, interleaved; reference network: '
          f'{args.reference_head} head')

    timing = time_interleaved(runners, batches, args.warmup, args.iters,
                              device)
    if args.profile:
        for r in runners:
            profile_step(r, batches[0], device)
    mode = args.memory
    if mode == 'auto':
        mode = 'inprocess' if device.type == 'cuda' else 'subprocess'
    if mode == 'inprocess':
        memory = {r.name: peak_memory(r, batches, device) for r in runners}
    elif mode == 'subprocess':
        memory = {r.name: memory_in_subprocess(argv, r) for r in runners}
    else:
        memory = {r.name: dict(kind='none', peak_mib=float('nan'),
                               above_start_mib=float('nan'))
                  for r in runners}

    saved = {r.name: saved_for_backward(r, batches[0]) for r in runners}

    syncs = {}
    if device.type == 'cuda':
        for r in runners:
            if hasattr(r, 'step_only'):
                syncs[r.name] = host_syncs(r, batches[0])
                print(f'host syncs in one train_step of {r.name}: '
                      f'{syncs[r.name]["count"]} {syncs[r.name]["places"]}')

    ref = timing.get('reference')
    results = []
    images = 2 * args.batch_size
    mem_kind = 'GPU peak' if device.type == 'cuda' else 'RSS +step'
    print(f'{"runner":28s} {"median ms":>10s} {"p90 ms":>9s} '
          f'{"images/s":>9s} {"peak MiB":>9s} {mem_kind:>10s} '
          f'{"saved MiB":>9s} {"ref/this":>9s}')
    for r in runners:
        t = timing[r.name]
        row = dict(
            name=r.name,
            variant=getattr(r, 'variant', None),
            images_per_s=images / (t['median_ms'] / 1000),
            memory=memory[r.name],
            saved_for_backward=saved[r.name],
            host_syncs=syncs.get(r.name),
            **t)
        if ref is not None:
            row['speedup_vs_reference'] = ref['median_ms'] / t['median_ms']
        if r.name != 'reference':
            row['projected_30k_hours'] = (ITERS_30K * t['median_ms'] / 1000 /
                                          3600)
        results.append(row)
        ratio = row.get('speedup_vs_reference')
        mem = memory[r.name]
        print(f'{r.name:28s} {t["median_ms"]:10.1f} {t["p90_ms"]:9.1f} '
              f'{row["images_per_s"]:9.1f} {mem["peak_mib"]:9.0f} '
              f'{mem["above_start_mib"]:10.0f} '
              f'{saved[r.name]["saved_mib"]:9.0f} '
              f'{"" if ratio is None else f"{ratio:8.2f}x"}')
    if ref is not None:
        ref_saved = saved['reference']['saved_mib']
        for r in runners[1:]:
            print(f'saved for backward, reference / {r.name}: '
                  f'{ref_saved / saved[r.name]["saved_mib"]:.2f}x')
    for row in results:
        if 'projected_30k_hours' in row:
            print(f'projected {ITERS_30K} iterations of {row["name"]}: '
                  f'{row["projected_30k_hours"]:.2f} h (steps only)')

    data_rows = []
    if args.data_workers:
        from data_pipeline import run as run_data
        data_rows = run_data(
            args.config,
            workers=args.data_workers,
            batches=args.data_batches,
            batch_size=args.batch_size,
            crop=args.crop,
            num_patients=args.data_patients)
        fastest = min(r['median_ms'] for r in results)
        for count in args.data_workers:
            per_branch = [
                r for r in data_rows if r['workers'] == count
            ]
            if count == 0:  # loading runs in the training process
                loader_ms = sum(r['ms_per_batch'] for r in per_branch)
                print(f'data: 0 workers: loading adds {loader_ms:.1f} ms to '
                      f'every step (fastest step {fastest:.1f} ms)')
                continue
            # The two loaders fill their batches in parallel processes.
            loader_ms = max(r['ms_per_batch'] for r in per_branch)
            verdict = 'keeps up with' if loader_ms < fastest else \
                'is SLOWER than'
            print(f'data: {count} workers per loader: a step\'s batches every '
                  f'{loader_ms:.1f} ms, {verdict} the fastest step '
                  f'({fastest:.1f} ms)')

    out = dict(
        machine=machine,
        args={k: v for k, v in vars(args).items() if k != 'variant_specs'},
        results=results,
        data_pipeline=data_rows)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=2, default=str)
    return out


if __name__ == '__main__':
    main()
