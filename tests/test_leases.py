"""GPU leases with a declared GPU count (the lease logic needs no GPU): real processes, real kernel locks."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ablation.ops.leases import acquire, physical_ids
from conftest import REPO

# A job: take a lease, note which GPU it saw and when, hold it a while, exit (the kernel drops the lock).
JOB = """
import json, os, sys, time
from ablation.ops.leases import acquire
gpus, slots, lease_dir, hold, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
lease = acquire(gpus, slots, lease_dir, poll_s=0.02)
start = time.time()
time.sleep(hold)
with open(out, "w") as f:
    json.dump({"device": os.environ["CUDA_VISIBLE_DEVICES"], "slot": lease.slot, "start": start, "end": time.time()}, f)
"""


def start_job(tmp_path, i, gpus, slots, hold):
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow/scripts")}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    args = [sys.executable, "-c", JOB, str(gpus), str(slots), str(tmp_path / "leases"), str(hold)]
    return subprocess.Popen([*args, str(tmp_path / f"{i}.json")], env=env)


def run_jobs(tmp_path, n, gpus, slots, hold=0.4) -> list[dict]:
    jobs = [start_job(tmp_path, i, gpus, slots, hold) for i in range(n)]
    assert all(job.wait(timeout=60) == 0 for job in jobs)
    return [json.loads((tmp_path / f"{i}.json").read_text()) for i in range(n)]


def most_at_once(intervals: list[dict]) -> int:
    events = sorted(
        [(r["start"], 1) for r in intervals] + [(r["end"], -1) for r in intervals], key=lambda e: (e[0], e[1])
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_two_gpus_one_slot_six_jobs_never_share_a_gpu(tmp_path):
    records = run_jobs(tmp_path, 6, gpus=2, slots=1)
    assert {r["device"] for r in records} == {"0", "1"}
    for device in ("0", "1"):
        assert most_at_once([r for r in records if r["device"] == device]) == 1
    assert most_at_once(records) == 2, "both GPUs were used at once"


def test_two_slots_let_two_jobs_share_one_gpu_and_no_more(tmp_path):
    records = run_jobs(tmp_path, 5, gpus=1, slots=2)
    assert {r["device"] for r in records} == {"0"}
    assert most_at_once(records) == 2


def test_a_sigkilled_jobs_lease_is_free_for_the_next_one(tmp_path):
    holder = start_job(tmp_path, 0, gpus=1, slots=1, hold=600)
    lock = tmp_path / "leases" / "gpu0.slot0.lock"
    deadline = time.time() + 30
    while not (lock.exists() and "pid" in lock.read_text()) and time.time() < deadline:
        time.sleep(0.05)
    waiter = start_job(tmp_path, 1, gpus=1, slots=1, hold=0)
    with pytest.raises(subprocess.TimeoutExpired):
        waiter.wait(timeout=1.5)  # the only slot is held: the second job waits
    killed_at = time.time()
    holder.send_signal(signal.SIGKILL)  # no handler runs: only the kernel can free the lease
    holder.wait(timeout=10)
    assert waiter.wait(timeout=10) == 0
    record = json.loads((tmp_path / "1.json").read_text())
    assert record["device"] == "0" and killed_at <= record["start"] < killed_at + 2


def test_a_gpu_slurm_chose_is_kept_and_no_lease_is_taken(tmp_path):
    environ = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "3"}
    lease = acquire(2, 1, tmp_path / "leases", environ=environ)
    assert lease.visible_devices == "3" and lease.gpu is None and environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert not (tmp_path / "leases").exists()


def test_a_narrowed_host_maps_indices_to_the_devices_it_shows(tmp_path):
    assert physical_ids(2, {"CUDA_VISIBLE_DEVICES": "2,5"}) == ["2", "5"]
    assert physical_ids(2, {}) == ["0", "1"]
    environ = {"CUDA_VISIBLE_DEVICES": "2,5"}
    first = acquire(2, 1, tmp_path / "leases", environ=dict(environ))
    second_env = dict(environ)
    second = acquire(2, 1, tmp_path / "leases", environ=second_env)
    assert (first.visible_devices, second.visible_devices) == ("2", "5") and second_env["CUDA_VISIBLE_DEVICES"] == "5"
    first.release(), second.release()
