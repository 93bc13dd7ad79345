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

This file is the command line; the two steps and their batches are in
``step_runners.py``, the measurements in ``step_measure.py``.
"""
import argparse
import gc
import json
import logging
import os
import os.path as osp
import platform
import sys
from typing import List, Optional

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(HERE))
sys.path.insert(0, HERE)

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from step_measure import (host_syncs, peak_memory, profile_step,  # noqa: E402
                          rss_bytes, saved_for_backward, time_interleaved)
from step_runners import (OursRunner, ReferenceRunner,  # noqa: E402
                          compile_options, make_batch, parse_variant)

ITERS_30K = 30000


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
    before = rss_bytes()
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
