"""Measuring training steps: interleaved step times, peak memory (CUDA
allocator or resident set), bytes saved for backward, host syncs, and an
operator profile. A *runner* is any callable ``runner(batch)`` with a
``name`` (``step_runners.py``)."""
import gc
import os
import os.path as osp
import statistics
import threading
import time
from typing import Callable, Dict, List

import torch


# ---------------------------------------------------------------------- #
# measurement
# ---------------------------------------------------------------------- #
def sync_device(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def rss_bytes() -> int:
    """This process's resident set size now, in bytes (Linux)."""
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
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self):
        self.before = rss_bytes()
        self.peak = self.before
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def peak_memory(runner: Callable, batches: List[dict], device: torch.device,
                steps: int = 2) -> Dict[str, float]:
    """Peak memory of ``steps`` steps of one runner, in MiB."""
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
        sync_device(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        for i in range(steps):
            runner(batches[i % len(batches)])
        sync_device(device)
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
            sync_device(device)
            start = time.perf_counter()
            r(batches[i % len(batches)])
            sync_device(device)
            if i == 0:
                first[r.name] = time.perf_counter() - start
    for i in range(iters):
        shift = i % len(runners)
        for r in runners[shift:] + runners[:shift]:
            batch = batches[(warmup + i) % len(batches)]
            sync_device(device)
            start = time.perf_counter()
            r(batch)
            sync_device(device)
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



def profile_step(runner, batch: dict, device: torch.device,
                 rows: int = 12) -> None:
    """Print the operators that take most time in one step."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if device.type == 'cuda':
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        runner(batch)
        sync_device(device)
    key = ('self_cuda_time_total'
           if device.type == 'cuda' else 'self_cpu_time_total')
    print(f'profile of one step of {runner.name}:')
    print(prof.key_averages().table(sort_by=key, row_limit=rows,
                                    max_name_column_width=40))

