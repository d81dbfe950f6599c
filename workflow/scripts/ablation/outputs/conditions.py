"""The conditions a run's times were measured under: the thread count it is given, and what it records.

A time means something only beside its conditions, so every run's metrics carry a `conditions` object (its schema is
in workflow/schemas/metrics.schema.yaml): whether it ran alone on the machine (`timing: exclusive`), its threads and
the cores it could use, its device by name and index, how many other runs leased its GPU at its start and end, the
load average at both ends, the process CPU time against the wall time of training, the determinism flags, and the
attempt's interval in Unix seconds (so that a test, or a reader, can check that a timed run overlapped no other job).
"""

import os
import time

from ablation.outputs import provenance


def cores_available() -> int:
    """Cores this process may run on (its CPU affinity, which SLURM and containers narrow), not the host's count."""
    return len(os.sched_getaffinity(0))


def torch_threads(device: str, exclusive: bool, training: dict, allotted: int, environ=os.environ) -> int:
    """Torch threads of a ResNet run. `allotted`: the threads snakemake gave the job.

    A CUDA run uses `gpu_threads`. A CPU run of a timed comparison (exclusive) uses `timing_cpu_threads`, or every core
    it may use, as the sources' single CPU process did: locally all of `--cores` (a timed job is allotted them), in a
    SLURM job (submitted --exclusive) its allocation. Any other CPU run uses what it was allotted (`cpu_threads`).
    """
    if device == "cuda":
        return training["gpu_threads"]
    if not exclusive:
        return allotted
    if training.get("timing_cpu_threads"):
        return training["timing_cpu_threads"]
    return cores_available() if environ.get("SLURM_JOB_ID") else allotted


def _load_1min() -> float:
    return os.getloadavg()[0]


class Conditions:
    """Started when an attempt starts, finished when its measured work has ended.

    `gpu_lease`: the run's ops.leases.Lease on CUDA (it counts the other runs on the GPU), else None. `torch_run`:
    whether torch's determinism flags apply (not to an SVM, whose environment has no torch).
    """

    def __init__(self, device: str, exclusive: bool, gpu_lease=None, torch_run: bool = True):
        self.device, self.exclusive, self.gpu_lease, self.torch_run = device, exclusive, gpu_lease, torch_run
        self.start_unix = time.time()
        self.load_start = _load_1min()
        self.gpu_others_start = gpu_lease.others_on_gpu() if gpu_lease is not None else None

    def finish(self, threads: int, cpu_time_s: float, wall_time_s: float) -> dict:
        """The record. `threads`: the compute threads used; `cpu_time_s` and `wall_time_s`: of the timed work
        (training, or the SVM fit), summed over attempts where it resumed."""
        record = {
            "exclusive": bool(self.exclusive),
            "threads": threads,
            "cores_available": cores_available(),
            "host_cores": os.cpu_count(),
            "device": self.device,
            "device_name": provenance.cpu_model(),
            "device_index": None,
            "gpu_other_runs_start": self.gpu_others_start,
            "gpu_other_runs_end": self.gpu_lease.others_on_gpu() if self.gpu_lease is not None else None,
            "load_average_start": self.load_start,
            "load_average_end": _load_1min(),
            "cpu_time_s": cpu_time_s,
            "wall_time_s": wall_time_s,
            "cpu_utilisation": cpu_time_s / wall_time_s if wall_time_s > 0 else None,
            "cudnn_benchmark": None,
            "cudnn_deterministic": None,
            "deterministic_algorithms": None,
            "interval_unix": [self.start_unix, time.time()],
        }
        if self.torch_run:
            import torch

            record["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
            record["cudnn_deterministic"] = bool(torch.backends.cudnn.deterministic)
            record["deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()
            if self.device == "cuda":
                record["device_name"] = torch.cuda.get_device_name(0)  # the one GPU this job sees
                record["device_index"] = os.environ.get("CUDA_VISIBLE_DEVICES")
        return record
