"""The plan and its cost before launch: the cost model's constants, the scheduler estimate, `make plan` itself."""

import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from ablation.data.split import split_sizes
from ablation.ops.cost import (
    DEFAULT_CPU_IMAGES_PER_S,
    MACS,
    PARAMS,
    STARTUP_S,
    estimate_mem_mb,
    estimate_seconds,
    slurm_runtime_min,
)
from ablation.ops.plan import makespan, render, wall_time
from ablation.study.config import load_config
from ablation.train.models import count_macs
from conftest import CPU_ONLY_LEFT_OUT, CPU_ONLY_RUNS, REPO


@pytest.mark.parametrize("model", sorted(MACS))
def test_cost_constants_are_thops_counts(model):
    assert count_macs(model) == (MACS[model], PARAMS[model])


def test_makespan_fills_free_slots_longest_first():
    assert makespan([], 2) == 0
    assert makespan([10, 10, 10, 10], 2) == 20
    assert makespan([30, 10, 10, 10], 2) == 30
    assert makespan([5, 5], 1) == 10


def test_estimates_scale_with_epochs_and_model_and_use_calibration():
    sizes = {"train": 49_000, "val": 7_000, "test": 14_000}
    run = {"model": "resnet18", "batch_size": 32, "epochs": 5, "device": "cpu"}
    five = estimate_seconds(run, sizes, {})
    ten = estimate_seconds({**run, "epochs": 10}, sizes, {})
    assert ten > 1.9 * five - 100
    # Start-up, then every epoch's training and validation images and one test pass, an evaluated image at a third of
    # a trained one, at the documented CPU rate: five more epochs add five epochs' images, nothing else.
    rate = DEFAULT_CPU_IMAGES_PER_S["resnet18"]
    assert five == pytest.approx(STARTUP_S + (5 * 49_000 + (5 * 7_000 + 14_000) / 3) / rate)
    assert ten - five == pytest.approx(5 * (49_000 + 7_000 / 3) / rate)
    assert estimate_seconds({**run, "model": "resnet50"}, sizes, {}) > five
    calibrated = estimate_seconds(run, sizes, {"cpu/resnet18/32": 800.0})
    assert calibrated < five / 5
    assert slurm_runtime_min(600, attempt=2) == 2 * slurm_runtime_min(600, attempt=1)
    assert estimate_mem_mb({**run, "model": "resnet50"}) > estimate_mem_mb(run)


def test_plan_of_the_default_config_counts_runs_per_study_and_device():
    config = load_config(REPO / "config/config.yaml")
    text = render(config, "config/config.yaml", cores=2, visible=False, throughput={}, throughput_source="defaults")
    assert re.search(rf"distinct ResNet runs\s+{CPU_ONLY_RUNS}\s+{CPU_ONLY_LEFT_OUT}\n", text)
    assert re.search(r"seed000_q1\s+32\s+0\s", text)
    assert "Local wall time at --cores 2" in text
    assert split_sizes(config) == {"train": 49_000, "val": 7_000, "test": 14_000}


def test_make_plan_command_line_runs():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ablation.ops.plan",
            "--configfile",
            "config/demo.yaml",
            "--cores",
            "2",
            "--gpu",
            "false",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "workflow/scripts")},
        check=True,
    )
    assert "demo_grid" in proc.stdout and "Local wall time at --cores 2" in proc.stdout
    # config/demo.yaml: demo_grid 2 datasets x 2 optimizers x 2 seeds = 8; demo_cpu_vs_gpu's CPU run is demo_grid's
    # MNIST Adam seed 0 (shared), its CUDA run left out here; demo_svm 2 datasets x 2 kernels x 2 sizes x 2 backends.
    for row in (
        r"demo_grid\s+8\s+0\s",
        r"demo_cpu_vs_gpu\s+1\s+1\s",
        r"demo_svm\s+16\s+\(SVM\)",
        r"distinct ResNet runs\s+8\s+1\n",
        r"distinct SVM runs\s+16\s",
    ):
        assert re.search(row, proc.stdout), row


def test_gpu_slots_divide_the_gpu_wall_time():
    config = load_config(REPO / "config/config.yaml")
    config["gpu"] = True

    def wall_hours(gpus, slots):
        text = render({**config, "gpus": gpus, "gpu_slots": slots}, "c", 64, True, {}, "defaults")
        line = next(line for line in text.splitlines() if line.startswith("Local wall time"))
        assert f"{slots} GPU run(s) at a time on each of {gpus} GPU(s)" in line
        return float(re.search(r"([\d,.]+) h", line)[1].replace(",", ""))

    one, two_gpus, two_slots = wall_hours(1, 1), wall_hours(2, 1), wall_hours(1, 2)
    assert two_gpus == two_slots and 0.45 * one <= two_gpus < one  # 64 cores: the GPU runs set the wall time


def test_timed_runs_go_one_at_a_time_alone_and_the_plan_says_what_that_costs():
    jobs = pd.DataFrame(
        {
            "device": ["cpu", "cpu", "cpu", "cpu", "cuda"],
            "exclusive": [True, True, False, False, False],
            "estimate_s": [10.0, 10.0, 10.0, 10.0, 5.0],
        }
    )
    # Two timed runs alone, one after the other, then the rest beside each other (2 CPU slots, 1 GPU slot).
    assert wall_time(jobs, cpu_slots=2, gpu_slots=1) == 10 + 10 + 10
    assert wall_time(jobs.assign(exclusive=False), cpu_slots=2, gpu_slots=1) == 20
    config = load_config(REPO / "config/config.yaml")
    text = render(config, "c", cores=2, visible=False, throughput={}, throughput_source="defaults")
    timed = int(re.search(r"of which (\d+) timed run\(s\)", text)[1])
    # Source 000's 4 and source 001's 8 CPU runs of their time comparisons (2 shared with Part A, timed all the same),
    # source 000's Question 2 CPU run as its notebook ran it, and every SVM fit of the series, under both SVC
    # implementations (the 10,000-sample fits of sources_svm are points of the timed series).
    assert timed == 4 + 8 + 1 + 22 + 22
    assert "exclusivity costs" in text
    config["timing"] = "shared"
    shared = render(config, "c", cores=2, visible=False, throughput={}, throughput_source="defaults")
    assert "timed run(s)" not in shared


def plan_on_a_terminal(answer: str | None, *extra: str) -> tuple[int, str]:
    """`python -m ablation.ops.plan --confirm` with a terminal as its stdin (a pseudo-terminal), answering `answer`."""
    import pty

    controller, terminal = pty.openpty()
    plan = [sys.executable, "-m", "ablation.ops.plan", "--configfile", str(REPO / "config/config.yaml")]
    proc = subprocess.Popen(
        [*plan, "--cores", "2", "--gpu", "false", "--confirm", *extra],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "workflow/scripts")},
    )
    if answer is not None:
        os.write(controller, f"{answer}\n".encode())
    out, _ = proc.communicate(timeout=120)
    os.close(controller)
    os.close(terminal)
    return proc.returncode, out


def test_make_run_asks_before_a_plan_of_days_on_a_cpu_and_names_the_alternatives():
    code, out = plan_on_a_terminal("n")
    assert "Local wall time at --cores 2" in out, "the plan is printed first"
    assert "on this host, which has no GPU" in out and "Start it anyway? [y/N]" in out
    assert "`make demo`" in out and "profiles/slurm" in out
    assert code == 1 and "Not started." in out
    code, out = plan_on_a_terminal("y")
    assert code == 0
    code, out = plan_on_a_terminal(None, "--yes")
    assert code == 0 and "YES=1: starting it." in out and "[y/N]" not in out


def test_without_a_terminal_make_run_goes_on_and_a_short_plan_is_not_questioned(tmp_path):
    command = [sys.executable, "-m", "ablation.ops.plan", "--cores", "2", "--gpu", "false", "--confirm"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow/scripts")}

    def confirm(config: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*command, "--configfile", str(REPO / config)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
        )

    full = confirm("config/config.yaml")
    assert full.returncode == 0 and "No terminal to ask: starting it." in full.stdout
    demo = confirm("config/demo.yaml")
    assert demo.returncode == 0 and "on this host, which has no GPU" not in demo.stdout
