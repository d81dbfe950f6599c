"""The seeds' published numbers (report/seeds/) read as runs, and seed 000's claims tested on them."""

import pandas as pd
import pytest

from ablation.claims import CONTRADICTED, INCONCLUSIVE, SUPPORTED, evaluate_claims
from ablation.seeds import seed000_runs, seed001_runs

NO_CURVES = pd.DataFrame(columns=["run_id", "epoch", "val_accuracy"])


def test_seed_001s_89_rows_and_4_svms_are_read_with_the_protocol_its_code_ran():
    runs = seed001_runs()
    assert runs["kind"].value_counts().to_dict() == {"resnet": 89, "svm": 4}
    resnet = runs[runs["kind"] == "resnet"]
    assert (
        set(resnet["device"]) == {"cuda"}
        and set(resnet["precision"]) == {"amp"}
        and set(resnet["split"]) == {"seed001"}
    )
    row = resnet[(resnet["dataset"] == "fashion_mnist") & (resnet["model"] == "resnet18") & (resnet["lr"] == 0.001)
                 & (resnet["optimizer"] == "adam") & (resnet["epochs"] == 5) & resnet["pin_memory"]]  # fmt: skip
    assert row["test_accuracy"].tolist() == [pytest.approx(0.9207)]
    assert row["train_time_s"].tolist() == [pytest.approx(407.906, abs=1e-3)]


def test_claim_1_on_the_seeds_own_numbers_is_a_finding():
    """Seed 000's own MNIST ResNet-18 rows at lr 1e-3: SGD 99.26% and 99.25% against Adam 99.11% and 99.18%."""
    (mnist,) = [p for p in evaluate_claims(seed000_runs(), NO_CURVES)[0].parts if p.comparison.startswith("MNIST")]
    assert "lr 0.001 ResNet-18 0/2" in mnist.reason and "Adam won 6 of 8 pairs" in mnist.reason
    assert mnist.verdict == INCONCLUSIVE
    claim_1 = evaluate_claims(seed001_runs(), NO_CURVES)[0]
    assert claim_1.verdict == CONTRADICTED and "Adam won 20 of 33 pairs" in claim_1.parts[0].reason


def test_the_seeds_numbers_support_claim_2_and_seed_000s_q2_pair_is_one_pair():
    found = evaluate_claims(seed000_runs(), NO_CURVES)
    assert found[1].verdict == SUPPORTED
    speedup = found[2].parts[0]
    assert speedup.estimate.n == 1 and speedup.estimate.value == pytest.approx(15_392_367.1 / 614_094.2, rel=1e-6)
    assert speedup.verdict == INCONCLUSIVE
