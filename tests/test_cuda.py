"""What only a GPU can show: a leased CUDA job sees its one GPU, pin_memory really pins, amp trains. CI has no GPU:
these are skipped there, and `make gpu-check` runs them on a GPU host (`pytest -m cuda`)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from ablation.outputs.records import validate_metrics
from ablation.train.models import build_model, make_optimizer
from ablation.train.resnet import complete_run, epoch_permutation, make_trainer, run_resnet
from conftest import REPO, RUN, train_args

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; `make gpu-check` on a GPU host"),
]


def test_a_leased_job_sees_exactly_its_gpu(tmp_path):
    """Leases set CUDA_VISIBLE_DEVICES before torch starts: the job sees one device, the one its lease names."""
    gpus = torch.cuda.device_count()
    script = (
        "import sys; from ablation.ops.leases import acquire; "
        f"lease = acquire({gpus}, 1, {str(tmp_path)!r}, log=sys.stderr); "
        "import torch; print(lease.gpu, lease.visible_devices, torch.cuda.device_count())"
    )
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["PYTHONPATH"] = str(REPO / "workflow/scripts")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    gpu, visible, seen = out.stdout.split()
    assert visible == gpu and int(seen) == 1


@pytest.mark.parametrize("pin_memory", [False, True])
def test_pin_memory_true_really_pins_the_batches_of_the_runs_own_loader(pin_memory):
    """The DataLoader the run's epoch runner builds (train.resnet.make_trainer) hands the training pass pinned
    batches when the run asks for pin_memory on CUDA, and the pass trains on them."""
    images = torch.zeros(64, 28, 28, dtype=torch.uint8)
    labels = torch.from_numpy(np.arange(64) % 10)
    run = complete_run({**RUN, "device": "cuda", "pin_memory": pin_memory, "batch_size": 16})
    model = build_model(run["model"], run["stem"]).to("cuda")
    optimizer = make_optimizer(run["optimizer"], model.parameters(), run["lr"], run["momentum"], 0.0)
    trainer = make_trainer(run, model, optimizer, (images, labels), 0.1, 0.3)
    seen = []

    def watch(batches):
        for x, y in batches:
            seen.append((x.is_pinned(), y.is_pinned()))
            yield x, y

    result = trainer.epoch(epoch_permutation(0, 1, 64), progress=watch)
    assert not result["diverged"] and result["train_accuracy"] >= 0
    assert seen == [(pin_memory, pin_memory)] * 4


def test_an_amp_run_trains_on_cuda_at_224_with_the_3ch_stem(prepared_split, tmp_path):
    args = train_args(prepared_split, tmp_path, device="cuda", precision="amp", input_size=224, stem="3ch", epochs=1)
    record = run_resnet(**args)
    validate_metrics(record)
    assert record["status"] == "ok" and record["provenance"]["gpu_name"] == torch.cuda.get_device_name(0)
    assert record["params"]["precision"] == "amp" and record["macs"] == 1_823_526_912
