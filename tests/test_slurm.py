"""The cluster path on a real SLURM: a one-node cluster with a schedulable GPU, started by tests/slurm/start_cluster.sh.

The demo-like CPU run goes through `snakemake --profile profiles/slurm` and must give the metrics of a local run
(times aside); the SLURM job records must show the requested resources; a CUDA run is submitted with a GPU request and,
on this GPU-less node, fails with the clear CUDA message.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import FEW_IMAGES, REPO, SNAKEMAKE, read_json, run_snakemake, tiny_grid, without_times, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def slurm_cluster():
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd/munge needs root; run the suite as root (CI does)")
    missing = [t for t in ("slurmctld", "slurmd", "munged", "sbatch", "squeue") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: apt-get install slurmctld slurmd slurm-client munge")
    started = subprocess.run([REPO / "tests/slurm/start_cluster.sh"], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    yield
    stopped = subprocess.run([REPO / "tests/slurm/stop_cluster.sh"], capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0, stopped.stderr


def start_local(directory, *targets: str) -> subprocess.Popen:
    """The same study run locally, the reference the cluster's metrics must equal. It trains while the cluster run
    waits on SLURM's scheduling and status polls, on one core beside the cluster job's one."""
    config = str(directory / "config.yaml")
    args = [*targets, "--cores", "1", "-s", str(REPO / "Snakefile"), "-d", str(directory), "--configfile", config]
    return subprocess.Popen([*SNAKEMAKE, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finished(local: subprocess.Popen) -> None:
    output, _ = local.communicate(timeout=900)
    assert local.returncode == 0, f"the local reference run failed:\n{output[-3000:]}"


def job_record(job_id: str) -> str:
    return subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True).stdout


def write_timed_study(directory: Path, fixture_data) -> None:
    """A CPU and a CUDA run, timed (as the sources' CPU-against-GPU study is): each job is submitted --exclusive. One
    thread, so that a local and a cluster run compute the same thing."""
    directory.mkdir()
    study = {"timing": "exclusive", "grid": tiny_grid(device=["cpu", "cuda"])}
    write_config(
        directory / "config.yaml",
        fixture_data,
        subset=FEW_IMAGES,
        resnet_studies={"tiny": study},
        training={"timing_cpu_threads": 1},
    )


def through_the_profile(directory: Path):
    """The study in `directory` through the profile as users get it; only what is specific to this test: no retries
    of the CUDA failure, quicker polls."""
    profile = ["--profile", str(REPO / "profiles/slurm"), "-s", str(REPO / "Snakefile"), "-d", str(directory)]
    polls = ["--slurm-init-seconds-before-status-checks", "5"]
    return run_snakemake(
        *profile, "--configfile", str(directory / "config.yaml"), "--retries", "0", *polls, check=False
    )


def test_runs_through_the_slurm_profile_match_local_runs_and_gpu_runs_ask_for_a_gpu(
    slurm_cluster, fixture_data, tmp_path
):
    local_dir, cluster_dir = tmp_path / "local", tmp_path / "cluster"
    write_timed_study(local_dir, fixture_data)
    write_timed_study(cluster_dir, fixture_data)
    local = start_local(local_dir)
    cluster = through_the_profile(cluster_dir)
    output = cluster.stdout + cluster.stderr
    finished(local)
    assert cluster.returncode != 0, "the CUDA run must fail on this GPU-less node"
    submitted = dict(
        re.findall(r"rule_train_resnet/\S*_(cpu|cuda)_dataloader_0_28_1ch_fp32_pooled_\S*/(\d+)\.log", output)
    )
    assert set(submitted) == {"cpu", "cuda"}, output[-3000:]

    # The CPU run: same metrics as the local one, times aside.
    relative = (
        "runs/resnet/dataset~mnist/model~resnet18/batch_size~64/optimizer~adam/lr~0.001/epochs~1/pin_memory~False"
    )
    point = "loader~dataloader/seed~0/input_size~28/stem~1ch/precision~fp32/split~pooled/normalisation~train_stats"
    point += "/momentum~0.0"
    local = read_json(local_dir / "results" / relative / "device~cpu" / point / "metrics.json")
    remote = read_json(cluster_dir / "results" / relative / "device~cpu" / point / "metrics.json")
    assert without_times(remote) == without_times(local)
    assert remote["provenance"]["slurm_job_id"] == submitted["cpu"]
    assert remote["conditions"]["exclusive"] and remote["conditions"]["threads"] == 1

    # The job records: the CPU run has the whole node (--exclusive: every CPU of it) and no GPU; the CUDA run asked
    # for one GPU; runtimes and memory come from the run's cost estimate.
    cpu_record, cuda_record = job_record(submitted["cpu"]), job_record(submitted["cuda"])
    assert f"NumCPUs={os.cpu_count()} " in cpu_record
    assert "gpu" not in cpu_record.split("TRES=", 1)[1].split("\n", 1)[0]
    assert "JobState=COMPLETED" in cpu_record
    assert re.search(r"TresPerJob=gres:gpu:1|TRES=\S*gres/gpu=1", cuda_record), cuda_record
    assert "JobState=FAILED" in cuda_record
    for record in (cpu_record, cuda_record):
        assert re.search(r"TimeLimit=00:\d\d:00", record) and re.search(r"mem=\d+M", record)
        assert "OverSubscribe=NO" in record, "a timed run has the node to itself (--exclusive)"

    # The CUDA run failed at once, saying why and what to do, in its rule log.
    logs = cluster_dir / "results/logs/resnet" / relative.removeprefix("runs/resnet/")
    message = (logs / "device~cuda" / f"{point}.log").read_text()
    assert "torch sees no CUDA device" in message and "profiles/slurm" in message


def test_a_training_job_at_its_time_limit_is_signalled_ahead_checkpoints_where_it_stopped_and_is_retried(
    slurm_cluster, fixture_data, tmp_path
):
    """The profile's training jobs ask SLURM for SIGTERM `stop_signal_ahead_s` before their time limit: a run longer
    than its limit saves its place in the epoch, exits, and the profile's retries continue it to the metrics of a run
    never stopped. Here the first limit is 1 minute (then 5, then 9: the retry finishes the run, however slowly a loaded
    machine trains it) and the signal is asked 10 s ahead.
    slurmctld checks limits every 30 s and sends the signal at the first check that finds the end less than the
    warning plus one period away, so the first job is signalled 20-50 s after it starts: after its training has
    begun (the job's snakemake and torch start first), and before a run of 40 epochs of 10 steps on one thread (160
    training images) can end, as 400 steps of ResNet-18 on one thread of a CPU take longer than that. A warning asked
    further ahead can come before the training has installed its handler, and the job then dies instead of saving
    its place; a run that ends within 50 s is never signalled. SLURM's check decides where the signal lands: in an
    epoch's steps (the run saves its step), or in the validation pass and checkpoint after one (it stops after that
    epoch), so either is accepted here; test_train and test_chaos signal a run mid-epoch at a step they choose."""
    study = {"grid": tiny_grid(batch_size=[16], epochs=[40], device=["cpu"])}
    local_dir, cluster_dir = tmp_path / "local", tmp_path / "cluster"
    for directory in (local_dir, cluster_dir):
        directory.mkdir()
        write_config(
            directory / "config.yaml",
            fixture_data,
            subset={"train": 160, "val": 16, "test": 16},
            resnet_studies={"long": study},
            training={"stop_signal_ahead_s": 10},
        )
    local = start_local(local_dir, "--until", "train_resnet")

    profile = ["--profile", str(REPO / "profiles/slurm"), "-s", str(REPO / "Snakefile"), "-d", str(cluster_dir)]
    retried = ["--set-resources", "train_resnet:runtime=4*attempt-3", "--retries", "2"]
    polls = ["--slurm-init-seconds-before-status-checks", "5"]
    config = str(cluster_dir / "config.yaml")
    cluster = run_snakemake("--until", "train_resnet", *profile, *retried, *polls, "--configfile", config, check=False)
    finished(local)
    assert cluster.returncode == 0, (cluster.stdout + cluster.stderr)[-3000:]
    jobs = re.findall(r"rule_train_resnet/\S*/(\d+)\.log", cluster.stdout + cluster.stderr)
    assert len(set(jobs)) >= 2, "the first job was stopped and the run went on in another"
    # Each retry has a longer limit than the last, as the profile's own limits grow with the attempt.
    for attempt, job in enumerate(sorted(set(jobs), key=int), start=1):
        assert f"TimeLimit=00:0{4 * attempt - 3}:00" in job_record(job)

    (local,) = (local_dir / "results/runs/resnet").rglob("metrics.json")
    (remote,) = (cluster_dir / "results/runs/resnet").rglob("metrics.json")
    assert without_times(read_json(remote)) == without_times(read_json(local))
    (log,) = (cluster_dir / "results/logs/resnet").rglob("*.log")
    text = log.read_text()
    stops = re.findall(r"SIGTERM: stopped (in|after) epoch (\d+)", text)
    resumes = re.findall(r"resuming (in|after) epoch (\d+)", text)
    assert stops and all(stop in resumes for stop in stops), "each stop is resumed where it was"
    # A stop in an epoch is in that epoch's record: the steps at which its attempts stopped.
    stopped_in = {int(epoch) for where, epoch in stops if where == "in"}
    recorded = {epoch["epoch"] for epoch in read_json(remote)["history"] if "stopped_at_steps" in epoch}
    assert recorded == stopped_in
