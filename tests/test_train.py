"""Training one grid point for real on fixture data: determinism, resume after SIGKILL, divergence, FLOPs, schema."""

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ablation.outputs.provenance import TRAINING_CODE, training_code
from ablation.outputs.records import read_json, validate_metrics
from ablation.train.checkpoint import Checkpoint, run_identity, why_not_continued
from ablation.train.interrupt import EpochState
from ablation.train.models import build_model, build_model_and_optimizer, count_macs, make_optimizer
from ablation.train.precision import Precision
from ablation.train.resnet import (
    complete_run,
    epoch_permutation,
    evaluate,
    load_parts,
    make_trainer,
    normalisation,
    run_resnet,
)
from conftest import REPO, RUN, TRAINING, train_args, train_args_json, without_times


@pytest.fixture(scope="module")
def reference_dir(few_split, tmp_path_factory):
    return tmp_path_factory.mktemp("reference")


@pytest.fixture(scope="module")
def reference(few_split, reference_dir):
    return run_resnet(**train_args(few_split, reference_dir))


def test_a_run_writes_valid_metrics_with_provenance(reference):
    validate_metrics(reference)
    assert reference["status"] == "ok" and reference["kind"] == "resnet"
    assert [h["epoch"] for h in reference["history"]] == [1, 2, 3]
    assert reference["train_time_s"] == pytest.approx(sum(h["epoch_time_s"] for h in reference["history"]))
    # Evaluation is timed apart: every validation pass and the test pass (a time "with evaluation" adds them).
    assert all(h["eval_time_s"] > 0 for h in reference["history"]) and reference["test_time_s"] > 0
    # The conditions of the times: not exclusive here, 1 thread, the CPU by name, deterministic on the CPU.
    conditions = reference["conditions"]
    assert not conditions["exclusive"] and conditions["threads"] == 1 and conditions["device"] == "cpu"
    assert conditions["deterministic_algorithms"] and conditions["interval_unix"][0] < conditions["interval_unix"][1]
    assert 0 < conditions["cpu_time_s"] and conditions["wall_time_s"] == pytest.approx(reference["train_time_s"])
    # The fixture classes are separable bars: a working trainer learns them.
    assert reference["test_accuracy"] > 0.3  # chance is 0.1
    provenance = reference["provenance"]
    assert provenance["packages"]["torch"] == torch.__version__.split("+")[0]
    assert provenance["threads"] == 1 and provenance["seed"] == 0
    # The torch that ran: the venv's here (the host's own under TORCH=system: test_bundle), and its CUDA build.
    assert provenance["torch_build"] == torch.__version__ and provenance["torch_from"] == "venv"
    assert provenance["cuda_version"] == torch.version.cuda
    assert len(provenance["split_checksum"]) == 64 and len(provenance["data_sha256"]) == 4


def test_the_test_metrics_are_the_final_models_on_the_test_part_normalised_with_the_training_parts_stats(
    reference, reference_dir, few_split
):
    """The checkpoint left beside a finished run holds the model that was tested: evaluated again on the split's test
    part, normalised with the split's recorded training mean and std, it gives the run's test loss and accuracy
    exactly (deterministic on the CPU); on the validation part, or normalised with (0.5, 0.5), it does not."""
    state = torch.load(reference_dir / "checkpoint" / "checkpoint.pt", weights_only=False)
    assert len(state["history"]) == RUN["epochs"] and state["position"] is None
    run = complete_run(RUN)
    model = build_model(run["model"], run["stem"])
    model.load_state_dict(state["model"])
    parts = load_parts(few_split["data_dir"], few_split["split_npz"])
    meta = read_json(few_split["split_json"])
    spec = (TRAINING["eval_batch_size"], run["input_size"], run["stem"])

    def scored(part, mean, std):
        return evaluate(model, *parts[part], mean, std, "cpu", *spec)

    assert scored("test", meta["mean"], meta["std"]) == (reference["test_loss"], reference["test_accuracy"])
    assert scored("val", meta["mean"], meta["std"])[0] != reference["test_loss"]
    assert scored("test", 0.5, 0.5)[0] != reference["test_loss"]
    assert len(parts["test"][1]) == reference["split"]["test"] == meta["sizes"]["test"]


def test_a_run_normalises_with_its_splits_training_stats_or_the_sources_half():
    meta = {"mean": 0.13, "std": 0.31}
    assert normalisation(complete_run(RUN), meta) == (0.13, 0.31)
    assert complete_run(RUN)["normalisation"] == "train_stats"
    assert normalisation({**complete_run(RUN), "normalisation": "half"}, meta) == (0.5, 0.5)


class Caught(Exception):
    """Raised by a progress wrapper with the batches a run's training pass was handed, before any step."""


def the_runs_loader(run: dict, permutation, position=None):
    """The DataLoader the run's own epoch runner builds for one epoch (from `position`, where a stopped pass was),
    caught by the progress wrapper before a step is taken, so no device is touched."""
    images = torch.zeros(70, 28, 28, dtype=torch.uint8)
    labels = torch.arange(70) % 10
    model = build_model(run["model"], run["stem"])
    optimizer = make_optimizer(run["optimizer"], model.parameters(), run["lr"], run["momentum"], 0.0)

    def catch(batches):
        raise Caught(batches)

    trainer = make_trainer(run, model, optimizer, (images, labels), 0.1, 0.3)
    assert trainer.setup_time_s is None
    with pytest.raises(Caught) as caught:
        trainer.epoch(permutation, progress=catch, position=position)
    return caught.value.args[0]


@pytest.mark.parametrize(
    "device, pin_memory, pinned", [("cuda", True, True), ("cuda", False, False), ("cpu", True, False)]
)
def test_the_runs_loader_pins_on_cuda_only_and_takes_the_epochs_order_from_the_step_it_resumes_at(
    device, pin_memory, pinned
):
    """pin_memory acts on CUDA only; the batches come in the epoch's permutation at the run's batch size, and a pass
    resumed at step 2 starts 2 batches into that order."""
    run = complete_run({**RUN, "device": device, "pin_memory": pin_memory, "batch_size": 16})
    permutation = epoch_permutation(run["seed"], 2, 70)
    loader = the_runs_loader(run, permutation)
    assert isinstance(loader, torch.utils.data.DataLoader)
    assert loader.pin_memory is pinned and loader.batch_size == 16 and loader.num_workers == 0
    assert list(loader.sampler) == permutation.tolist()
    resumed = the_runs_loader(run, permutation, position=EpochState(step=2))
    assert list(resumed.sampler) == permutation[32:].tolist() and resumed.pin_memory is pinned


def test_an_epochs_order_is_a_permutation_set_by_the_seed_and_the_epoch():
    first = epoch_permutation(seed=0, epoch=1, n=50)
    assert sorted(first.tolist()) == list(range(50))
    assert torch.equal(first, epoch_permutation(seed=0, epoch=1, n=50))
    assert not torch.equal(first, epoch_permutation(seed=0, epoch=2, n=50)), "each epoch its own order"
    assert not torch.equal(first, epoch_permutation(seed=1, epoch=1, n=50)), "each seed its own orders"
    # Neither draws from torch's global generator, so a resumed run's orders do not depend on what ran before.
    torch.manual_seed(123)
    before = torch.get_rng_state()
    assert torch.equal(epoch_permutation(seed=0, epoch=1, n=50), first)
    assert torch.equal(torch.get_rng_state(), before)


def test_the_seed_sets_the_initial_weights_and_the_batch_order(reference, few_split, tmp_path):
    """One epoch at seed 1 ends elsewhere than the first epoch of the reference run (seed 0), and where the run's own
    loop ends from weights drawn after seeding torch with 1 and the epoch's order for seed 1."""
    other = run_resnet(**train_args(few_split, tmp_path, seed=1, epochs=1))
    assert other["history"][0]["train_loss"] != reference["history"][0]["train_loss"]
    assert other["history"][0]["val_loss"] != reference["history"][0]["val_loss"]
    run = complete_run({**RUN, "seed": 1, "epochs": 1})
    torch.manual_seed(1)
    model, optimizer = build_model_and_optimizer(run, TRAINING)
    train = load_parts(few_split["data_dir"], few_split["split_npz"])["train"]
    meta = read_json(few_split["split_json"])
    trainer = make_trainer(run, model, optimizer, train, meta["mean"], meta["std"])
    by_hand = trainer.epoch(epoch_permutation(1, 1, len(train[1])))
    assert by_hand["train_loss"] == pytest.approx(other["history"][0]["train_loss"], rel=1e-9)
    assert by_hand["train_accuracy"] == other["history"][0]["train_accuracy"]


def test_same_run_twice_gives_identical_metrics(reference, few_split, tmp_path):
    again = run_resnet(**train_args(few_split, tmp_path))
    assert without_times(again) == without_times(reference)


def test_a_run_killed_mid_training_resumes_to_the_same_metrics(reference, few_split, tmp_path):
    args = train_args(few_split, tmp_path)
    (tmp_path / "args.json").write_text(train_args_json(args))
    checkpoint = tmp_path / "checkpoint" / "checkpoint.pt"
    command = [sys.executable, "-m", "ablation.train.resnet", str(tmp_path / "args.json")]
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow/scripts")}
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.poll() is None, "the run ended before it could be killed; make the fixture run longer"
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not (tmp_path / "metrics.json").exists(), "a killed run must leave no metrics file"
    epochs_done = len(torch.load(checkpoint, weights_only=False)["history"])
    assert 1 <= epochs_done < RUN["epochs"]

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"resuming after epoch {epochs_done}" in second.stderr
    resumed = json.loads((tmp_path / "metrics.json").read_text())
    assert without_times(resumed) == without_times(reference)


@pytest.mark.parametrize("loader, stop_signal", [("dataloader", signal.SIGTERM), ("resident", signal.SIGINT)])
def test_a_run_stopped_by_a_signal_mid_epoch_checkpoints_there_and_resumes_to_the_same_metrics(
    loader, stop_signal, reference, few_split, tmp_path
):
    """SIGTERM (a SLURM time limit or preemption) or Ctrl-C in the middle of an epoch: the run saves where it is in the
    epoch and exits; the next attempt goes on from that step to the metrics of a run never stopped."""
    uninterrupted = reference
    if loader != "dataloader":
        uninterrupted = run_resnet(**train_args(few_split, tmp_path / "uninterrupted", loader=loader))
    args = train_args(few_split, tmp_path, loader=loader)
    (tmp_path / "args.json").write_text(train_args_json(args))
    checkpoint = tmp_path / "checkpoint" / "checkpoint.pt"
    command = [sys.executable, "-m", "ablation.train.resnet", str(tmp_path / "args.json")]
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow/scripts")}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # The progress file says epoch 2 as that epoch's first step begins: the signal lands inside the epoch.
    progress = checkpoint.with_name("progress.json")
    deadline = time.monotonic() + 300
    while first.poll() is None and time.monotonic() < deadline:
        if progress.exists() and json.loads(progress.read_text() or "{}").get("epoch") == 2:
            break
        time.sleep(0.01)
    assert first.poll() is None, "the run ended before it could be stopped; make the fixture run longer"
    first.send_signal(stop_signal)
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 128 + stop_signal, stderr[-2000:]
    assert not (tmp_path / "metrics.json").exists()
    position = torch.load(checkpoint, weights_only=False)["position"]
    steps = -(-json.loads(few_split["split_json"].read_text())["sizes"]["train"] // RUN["batch_size"])
    assert position["epoch"] == 2 and 1 <= position["step"] < steps, position
    assert f"{stop_signal.name}: stopped in epoch 2 at step {position['step']} of {steps}" in stderr

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"resuming in epoch 2 at step {position['step']}" in second.stderr
    resumed = json.loads((tmp_path / "metrics.json").read_text())
    assert without_times(resumed) == without_times(uninterrupted)  # bit-identical: losses, accuracies, every epoch
    assert resumed["history"][1]["stopped_at_steps"] == [position["step"]]
    assert "stopped_at_steps" not in resumed["history"][0] | resumed["history"][2]
    validate_metrics(resumed)


def test_a_checkpoint_that_cannot_be_read_is_kept_aside_and_the_run_starts_over(reference, few_split, tmp_path):
    args = train_args(few_split, tmp_path)
    checkpoint = Path(args["files"].checkpoint)
    checkpoint.parent.mkdir(parents=True)
    truncated = b"PK\x03\x04" + b"\x00" * 100  # the start of a zip archive, cut short (a full disk, a bad copy)
    checkpoint.write_bytes(truncated)
    with open(tmp_path / "run.log", "w") as log:
        record = run_resnet(**args, log=log)
    assert without_times(record) == without_times(reference), "started over: the same metrics as a fresh run"
    (kept,) = checkpoint.parent.glob("checkpoint.pt.set-aside-*")
    assert kept.read_bytes() == truncated, "the unreadable file is kept as it was"
    text = (tmp_path / "run.log").read_text()
    assert f"checkpoint {checkpoint} cannot be read" in text and f"kept as {kept.name}" in text


def test_a_checkpoint_of_another_momentum_is_not_resumed(few_split, tmp_path):
    """A checkpoint moved from an earlier layout gets the momentum of then, 0.9, when it has no metrics to say which
    it trained with; one that trained with 0.8 must not continue as a 0.9 run."""
    args = train_args(few_split, tmp_path, optimizer="sgd", momentum=0.9, epochs=1)
    checkpoint = Path(args["files"].checkpoint)
    checkpoint.parent.mkdir(parents=True)
    other = torch.optim.SGD(build_model("resnet18").parameters(), lr=RUN["lr"], momentum=0.8)
    torch.save(
        {"model": {}, "optimizer": other.state_dict(), "scaler": None, "history": [{"epoch": 1}], "started_at": "then"},
        checkpoint,
    )
    with open(tmp_path / "run.log", "w") as log:
        record = run_resnet(**args, log=log)
    assert [h["epoch"] for h in record["history"]] == [1], "trained from the start"
    assert "trained another run (momentum 0.8, this run's 0.9)" in (tmp_path / "run.log").read_text()
    assert len(list(checkpoint.parent.glob("checkpoint.pt.set-aside-*"))) == 1


def test_a_checkpoint_of_another_weight_decay_is_not_resumed(reference, few_split, tmp_path):
    """A change of `weight_decay` reruns a run at the same path: its old checkpoint trained another run."""
    first = run_resnet(**{**train_args(few_split, tmp_path), "training": {**TRAINING, "weight_decay": 0.01}})
    assert first["test_loss"] != reference["test_loss"]
    (tmp_path / "metrics.json").unlink()  # as snakemake does before it reruns the job
    with open(tmp_path / "run.log", "w") as log:
        again = run_resnet(**train_args(few_split, tmp_path), log=log)
    assert "trained another run (weight_decay 0.01, this run's 0.0)" in (tmp_path / "run.log").read_text()
    assert without_times(again) == without_times(reference)


def test_metrics_deleted_before_snakemake_saw_the_job_end_cost_only_the_test_pass(reference, few_split, tmp_path):
    """A kill between the metrics' write and snakemake's record of the job's end: snakemake deletes the metrics as
    incomplete and runs the job again, which finds the last epoch's checkpoint and only redoes the test pass."""
    run_resnet(**train_args(few_split, tmp_path))
    checkpoint = tmp_path / "checkpoint" / "checkpoint.pt"
    assert len(torch.load(checkpoint, weights_only=False)["history"]) == RUN["epochs"], "kept until aggregated"
    (tmp_path / "metrics.json").unlink()
    with open(tmp_path / "run.log", "w") as log:
        again = run_resnet(**train_args(few_split, tmp_path), log=log)
    assert f"resuming after epoch {RUN['epochs']}" in (tmp_path / "run.log").read_text()
    assert "epoch 1:" not in (tmp_path / "run.log").read_text(), "nothing trained again"
    assert without_times(again) == without_times(reference)


@pytest.mark.parametrize("split, loss", [("prepared_split", "training"), ("few_split", "validation")])
def test_a_diverging_run_ends_with_status_diverged_not_a_crash(split, loss, request, tmp_path):
    """At lr 1000 the training loss turns non-finite within the first epoch's 14 steps on the prepared split; the
    few split's 4 steps keep it finite, but leave weights whose validation loss is not."""
    log = io.StringIO()
    record = run_resnet(
        **train_args(request.getfixturevalue(split), tmp_path, optimizer="sgd", lr=1000.0, epochs=2), log=log
    )
    validate_metrics(record)
    assert record["status"] == "diverged" and record["diverged_epoch"] == 1
    assert record["test_accuracy"] is None and record["history"] == []
    assert f"epoch 1: non-finite {loss} loss; the run diverged" in log.getvalue()
    assert (tmp_path / "metrics.json").exists()


def test_cuda_run_on_a_host_without_cuda_fails_at_once_with_how_to(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this host has CUDA; the message is for hosts without it")
    args = train_args({"data_dir": "/nonexistent", "split_npz": "/nonexistent", "split_json": "/x"}, tmp_path)
    args["run"]["device"] = "cuda"
    with pytest.raises(SystemExit) as err:
        run_resnet(**args)  # the data paths do not exist: it must fail before touching them
    message = str(err.value)
    assert "no CUDA device" in message and "profiles/slurm" in message and "gpu: false" in message


# thop MACs and parameters source 001 (gjyotin305/MLOps-B22AI063) reported as "GFLOPs" and "Params (M)", Question 2.
SOURCE_TABLE = {"resnet18": (0.0332, 11.18), "resnet34": (0.0699, 21.28), "resnet50": (0.0788, 23.52)}


@pytest.mark.parametrize("model_name", sorted(SOURCE_TABLE))
def test_macs_match_the_sources_and_flops_agree_with_torch_flop_counter(model_name):
    macs, params = count_macs(model_name)
    assert round(macs / 1e9, 4) == SOURCE_TABLE[model_name][0]
    assert round(params / 1e6, 2) == SOURCE_TABLE[model_name][1]
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        build_model(model_name).eval()(torch.zeros(1, 1, 28, 28))
    # thop also counts batch-norm and pooling; torch's counter only matmuls and convolutions: within 2%.
    assert 2 * macs == pytest.approx(counter.get_total_flops(), rel=0.02)


def test_the_training_code_digest_counts_code_not_comments_or_docstrings(tmp_path):
    package = REPO / "workflow/scripts/ablation"
    copy = tmp_path / "ablation"
    for pattern in TRAINING_CODE:
        for path in package.glob(pattern):
            (copy / path.relative_to(package)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, copy / path.relative_to(package))
    assert training_code(copy) == training_code(package)
    loop = copy / "train/resnet.py"
    source = loop.read_text()
    loop.write_text(source.replace('"""', '"""A docstring edited. ', 1) + "\n# a comment\n")
    assert training_code(copy) == training_code(package), "comments and docstrings do not decide a result"
    loop.write_text(source + "\nEDITED = True\n")
    assert training_code(copy) != training_code(package)
    loop.write_text(source)
    (copy / "train/checkpoint_helpers.py").write_text("EDITED = True\n")
    assert training_code(copy) != training_code(package), "a new module of the training stage counts"


def checkpoint_state(identity: dict, epochs_done: int, position=None) -> dict:
    return {"identity": identity, "history": [{"epoch": e + 1} for e in range(epochs_done)], "position": position}


def test_a_checkpoint_is_continued_only_by_its_own_run_and_training_code():
    identity = run_identity(complete_run(RUN), TRAINING, "a" * 64)
    assert why_not_continued(checkpoint_state(identity, RUN["epochs"]), identity, retrain=False) is None
    other_split = {**identity, "split_checksum": "b" * 64}
    assert "trained another run (split_checksum " in why_not_continued(
        checkpoint_state(other_split, 1), identity, False
    )
    other_code = {**identity, "training_code": "0" * 64}
    unrecorded = {k: v for k, v in identity.items() if k != "training_code"}  # made before the code was recorded
    for saved in (other_code, unrecorded):
        refused = why_not_continued(checkpoint_state(saved, RUN["epochs"]), identity, False)
        assert refused.startswith("was made by other training code")
    # Asked to train again: finished training is set aside; unfinished training (a kill, a stop) is continued.
    finished = checkpoint_state(identity, RUN["epochs"])
    assert "asked to train again" in why_not_continued(finished, identity, retrain=True)
    assert why_not_continued(checkpoint_state(identity, 1), identity, retrain=True) is None
    stopped = checkpoint_state(identity, RUN["epochs"] - 1, position={"epoch": RUN["epochs"], "step": 3})
    assert why_not_continued(stopped, identity, retrain=True) is None


def test_resume_puts_back_the_weights_optimizer_position_and_random_generators_it_saved(tmp_path):
    """A checkpoint taken mid-epoch, resumed into a fresh model and optimizer after every generator was reseeded:
    the weights, Adam's moments, the history, start time and position, and the next draws of torch, numpy and
    random are those that followed the save."""
    identity = run_identity(complete_run(RUN), TRAINING, "0" * 64)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 4)).sum().backward()
    optimizer.step()
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    history, position = [{"epoch": 1}], EpochState(epoch=2, step=3)
    path = tmp_path / "checkpoint.pt"
    Checkpoint(path, identity, model, optimizer, Precision("fp32", "cpu"), io.StringIO()).save(
        history, "first start", position
    )
    following = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(8), np.random.seed(8), random.seed(8)
    fresh = torch.nn.Linear(4, 2)
    fresh_optimizer = torch.optim.Adam(fresh.parameters())
    log = io.StringIO()
    resumed = Checkpoint(path, identity, fresh, fresh_optimizer, Precision("fp32", "cpu"), log).resume("this start")
    assert resumed == (history, "first start", position)
    assert "resuming in epoch 2 at step 3" in log.getvalue()
    assert torch.equal(torch.rand(3), following[0])
    assert np.array_equal(np.random.rand(3), following[1]) and random.random() == following[2]
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))
    saved, loaded = optimizer.state_dict()["state"], fresh_optimizer.state_dict()["state"]
    assert torch.equal(loaded[0]["exp_avg"], saved[0]["exp_avg"]) and loaded[0]["step"] == saved[0]["step"] == 1
