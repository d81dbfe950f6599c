"""What the network sees: the sources' resize and 3-channel stem, the same tensors on both loops, thop at the real
input. The factors `input_size`, `stem` and `precision` are grid factors like any other; run_resnet reads them from a
run."""

import pytest
import torch

from ablation.ops.cost import MACS_224, STARTUP_S, estimate_seconds, images_per_s
from ablation.train.dataloader import NormalizedImages
from ablation.train.inputs import model_input
from ablation.train.models import count_macs
from ablation.train.resident import ResidentTrainer
from ablation.train.resnet import epoch_permutation, run_resnet
from conftest import train_args, without_times


def test_at_28_with_the_1ch_stem_the_input_is_the_normalised_image_unchanged():
    images = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8)
    expected = images.float().div(255.0).sub(0.2).div(0.3).unsqueeze(1)
    assert torch.equal(model_input(images, 0.2, 0.3), expected)


@pytest.mark.parametrize(("input_size", "stem"), [(56, "1ch"), (64, "3ch"), (28, "3ch")])
def test_both_loops_see_the_same_resized_tensors(input_size, stem):
    """Per sample in the DataLoader's Dataset, per batch on the device in the resident loop: identical on a CPU."""
    images = torch.randint(0, 256, (40, 28, 28), dtype=torch.uint8)
    labels = torch.arange(40) % 10
    permutation = epoch_permutation(seed=1, epoch=1, n=40)
    loader = torch.utils.data.DataLoader(
        NormalizedImages(images, labels, 0.5, 0.5, input_size, stem), batch_size=16, sampler=permutation.tolist()
    )
    trainer = ResidentTrainer(torch.nn.Identity(), None, images, labels, 0.5, 0.5, 16, "cpu", input_size, stem)
    channels = 3 if stem == "3ch" else 1
    for i, (x, _) in enumerate(loader):
        assert x.shape[1:] == (channels, input_size, input_size)
        assert torch.equal(trainer.batch(permutation[i * 16 : (i + 1) * 16]), x)
        # The 3ch stem gets the grey channel three times, as Grayscale(num_output_channels=3) gives it.
        assert all(torch.equal(x[:, c], x[:, 0]) for c in range(channels))
    # Resized the way the sources' PIL Resize does it: bilinear, back to 8 bits, so every pixel is k/255 normalised.
    pixels = x[:, 0] * 0.5 + 0.5
    assert torch.allclose(pixels * 255, (pixels * 255).round(), atol=1e-4)


def test_thop_counts_at_the_real_input_and_stem():
    """At 224x224 thop gives source 001's ResNet-18 (1ch) 1.7449 G MACs, 52.6x its table's 0.0332 counted at 28x28, and
    source 000's stock ResNet-18 (3ch) 1.8235 G MACs, as its Question 2 CSV."""
    macs_1ch, params_1ch = count_macs("resnet18", 224, "1ch")
    macs_3ch, params_3ch = count_macs("resnet18", 224, "3ch")
    assert round(macs_1ch / 1e9, 4) == 1.7449 and round(macs_3ch / 1e9, 4) == 1.8235
    assert 52 < macs_1ch / count_macs("resnet18")[0] < 53
    assert params_3ch - params_1ch == 64 * 7 * 7 * 2  # the stem's two extra input channels
    # The cost model's constants are thop's counts.
    assert MACS_224["1ch"]["resnet18"] == macs_1ch and MACS_224["3ch"]["resnet18"] == macs_3ch


@pytest.mark.parametrize("model", ["resnet34", "resnet50"])
def test_the_cost_models_224_counts_are_thops(model):
    assert MACS_224["1ch"][model] == count_macs(model, 224, "1ch")[0]
    assert MACS_224["3ch"][model] == count_macs(model, 224, "3ch")[0]


def test_a_224_run_costs_the_measured_cpu_rate_and_source_001s_rate_on_a_gpu():
    sizes = {"train": 42_000, "val": 6_000, "test": 10_000}
    run = {"model": "resnet18", "batch_size": 16, "epochs": 5, "device": "cpu"}
    small, large = estimate_seconds(run, sizes, {}), estimate_seconds({**run, "input_size": 224}, sizes, {})
    # At 224 the CPU's rate is the one measured here (10.9 images/s, 2 threads), not 28x28's scaled by MACs (52.6x);
    # at 28x28 the overhead-bound default (80 images/s) stands.
    assert images_per_s({}, "cpu", "resnet18", 16, 224, "1ch") == pytest.approx(10.9)
    assert images_per_s({}, "cpu", "resnet18", 16) == 80.0
    assert (large - STARTUP_S) / (small - STARTUP_S) == pytest.approx(80 / 10.9)
    # On the GPU at 224: source 001's own rate (42,000 x 5 images in 407.9 s of training), evaluation on top.
    assert images_per_s({}, "cuda", "resnet18", 16, 224, "1ch") == 515.0


def test_a_resized_3ch_run_trains_the_same_on_both_loops(prepared_split, tmp_path):
    changes = {"input_size": 56, "stem": "3ch", "epochs": 1}
    faithful = run_resnet(**train_args(prepared_split, tmp_path / "dl", **changes))
    fast = run_resnet(**train_args(prepared_split, tmp_path / "res", loader="resident", **changes))
    strip = lambda r: {**without_times(r), "params": {**r["params"], "loader": None}}  # noqa: E731
    assert strip(fast) == strip(faithful)
    assert faithful["macs"] == count_macs("resnet18", 56, "3ch")[0]


def test_a_bf16_run_trains_the_same_on_both_loops_and_amp_on_a_cpu_is_refused(small_split, tmp_path):
    # Two steps of 10 images an epoch: the two loops must agree over more than one batch.
    bf16 = {"precision": "bf16", "epochs": 1, "batch_size": 10}
    faithful = run_resnet(**train_args(small_split, tmp_path / "dl", **bf16))
    fast = run_resnet(**train_args(small_split, tmp_path / "res", **bf16, loader="resident"))
    strip = lambda r: {**without_times(r), "params": {**r["params"], "loader": None}}  # noqa: E731
    assert strip(fast) == strip(faithful)
    fp32 = run_resnet(**train_args(small_split, tmp_path / "fp32", epochs=1, batch_size=10))
    assert faithful["history"][0]["train_loss"] != fp32["history"][0]["train_loss"], "bf16 is not fp32"
    args = train_args(small_split, tmp_path / "amp", precision="amp", epochs=1)
    with pytest.raises(SystemExit, match="precision=amp .* on device=cpu; amp is CUDA-only"):
        run_resnet(**args)
    assert not (tmp_path / "amp" / "metrics.json").exists()
