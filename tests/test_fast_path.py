"""The resident (fast) path keeps the hyperparameters: on a CPU it trains exactly what the DataLoader path does."""

import pytest
import torch

from ablation.outputs.records import validate_metrics
from ablation.train.dataloader import NormalizedImages
from ablation.train.models import build_model, make_optimizer
from ablation.train.resident import ResidentTrainer, state_restored
from ablation.train.resnet import epoch_permutation, run_resnet
from conftest import RUN, train_args, without_times


def test_both_loaders_see_the_same_batches_in_the_same_order():
    images = torch.randint(0, 256, (70, 28, 28), dtype=torch.uint8)
    labels = torch.arange(70) % 10
    permutation = epoch_permutation(seed=3, epoch=2, n=70)
    loader = torch.utils.data.DataLoader(
        NormalizedImages(images, labels, 0.1, 0.3), batch_size=32, sampler=permutation.tolist()
    )
    trainer = ResidentTrainer(torch.nn.Identity(), None, images, labels, 0.1, 0.3, 32, "cpu")
    batches = list(loader)
    assert [len(y) for _, y in batches] == [32, 32, 6]  # the last partial batch is kept, as drop_last=False does
    for i, (x, y) in enumerate(batches):
        index = permutation[i * 32 : (i + 1) * 32]
        assert torch.equal(trainer.x[index], x) and torch.equal(trainer.y[index], y)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_resident_and_dataloader_paths_agree_on_cpu(few_split, tmp_path, optimizer):
    # 100 training images at batch 32: 3 full batches and a partial one of 4, two epochs.
    faithful = run_resnet(**train_args(few_split, tmp_path / "dl", epochs=2, optimizer=optimizer))
    fast = run_resnet(**train_args(few_split, tmp_path / "res", epochs=2, optimizer=optimizer, loader="resident"))
    validate_metrics(fast)
    assert fast["params"]["loader"] == "resident" and fast["compile_time_s"] is None
    strip = lambda r: {**without_times(r), "params": {**r["params"], "loader": None}}  # noqa: E731
    assert strip(fast) == strip(faithful)


def test_resident_path_reports_divergence(prepared_split, tmp_path):
    record = run_resnet(**train_args(prepared_split, tmp_path, loader="resident", optimizer="sgd", lr=1000.0))
    assert record["status"] == "diverged" and record["diverged_epoch"] == 1


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("resumed", [False, True])
def test_graph_warm_up_leaves_no_trace(optimizer, resumed):
    # CUDA graph capture first runs warm-up steps, inside state_restored; on a CPU the same warm-up runs eagerly, and
    # the epoch that follows must be the epoch a trainer without warm-up trains, for a fresh and a resumed optimizer.
    images = torch.randint(0, 256, (40, 28, 28), dtype=torch.uint8)
    labels = torch.arange(40) % 10
    permutation = epoch_permutation(seed=0, epoch=1, n=40)

    def trainer():
        torch.manual_seed(0)
        model = build_model("resnet18")
        adam_or_sgd = make_optimizer(optimizer, model.parameters(), 0.01, momentum=0.9, weight_decay=0.0)
        return ResidentTrainer(model, adam_or_sgd, images, labels, 0.1, 0.3, 16, "cpu")

    plain, warmed = trainer(), trainer()
    if resumed:
        for t in (plain, warmed):
            t.epoch(permutation)
    with state_restored(warmed.model, warmed.optimizer):
        for _ in range(3):
            warmed._step(warmed.x[:16], warmed.y[:16])
    assert warmed.epoch(permutation) | {"epoch_time_s": 0} == plain.epoch(permutation) | {"epoch_time_s": 0}
    for a, b in zip(plain.model.state_dict().values(), warmed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graph capture needs a CUDA device; none on this host")
def test_cuda_resident_path_captures_a_graph_and_learns(prepared_split, tmp_path):
    record = run_resnet(**train_args(prepared_split, tmp_path, loader="resident", device="cuda"))
    assert record["compile_time_s"] > 0 and record["test_accuracy"] > 0.3
    assert record["history"][-1]["train_loss"] < record["history"][0]["train_loss"]


assert RUN["epochs"] >= 2  # the agreement test trains at least two epochs, so reshuffling between epochs is covered
