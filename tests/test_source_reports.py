"""The sources' published numbers (report/seeds/) read as runs, and source 000's claims tested on them."""

import pandas as pd
import pytest

from ablation.report.claims import CONTRADICTED, INCONCLUSIVE, SUPPORTED, evaluate_claims
from ablation.report.source_reports import source000_runs, source001_beside_ours, source001_published, source001_runs

NO_CURVES = pd.DataFrame(columns=["run_id", "epoch", "val_accuracy"])


def test_source_001s_89_rows_and_4_svms_are_read_with_the_protocol_its_code_ran():
    runs = source001_runs()
    assert runs["kind"].value_counts().to_dict() == {"resnet": 89, "svm": 4}
    resnet = runs[runs["kind"] == "resnet"]
    assert (
        set(resnet["device"]) == {"cuda"}
        and set(resnet["precision"]) == {"amp"}
        and set(resnet["split"]) == {"seed001"}
    )
    row = resnet[
        (resnet["dataset"] == "fashion_mnist")
        & (resnet["model"] == "resnet18")
        & (resnet["lr"] == 0.001)
        & (resnet["optimizer"] == "adam")
        & (resnet["epochs"] == 5)
        & resnet["pin_memory"]
    ]
    assert row["test_accuracy"].tolist() == [pytest.approx(0.9207)]
    assert row["train_time_s"].tolist() == [pytest.approx(407.906, abs=1e-3)]


def test_claim_1_on_the_sources_own_numbers_is_a_finding():
    """Source 000's own MNIST ResNet-18 rows at lr 1e-3: SGD 99.26% and 99.25% against Adam 99.11% and 99.18%."""
    (mnist,) = [p for p in evaluate_claims(source000_runs(), NO_CURVES)[0].parts if p.comparison.startswith("MNIST")]
    assert "lr 0.001 ResNet-18 0/2" in mnist.reason and "Adam won 6 of 8 pairs" in mnist.reason
    assert mnist.verdict == INCONCLUSIVE
    claim_1 = evaluate_claims(source001_runs(), NO_CURVES)[0]
    assert claim_1.verdict == CONTRADICTED and "Adam won 20 of 33 pairs" in claim_1.parts[0].reason


def test_the_sources_numbers_support_claim_2_and_source_000s_q2_pair_is_one_pair():
    found = evaluate_claims(source000_runs(), NO_CURVES)
    assert found[1].verdict == SUPPORTED
    speedup = found[2].parts[0]
    assert speedup.estimate.n == 1 and speedup.estimate.value == pytest.approx(15_392_367.1 / 614_094.2, rel=1e-6)
    assert speedup.verdict == INCONCLUSIVE


def test_source_001s_readme_tables_agree_with_its_results_file():
    """The tables as its README published them, stored cell by cell, are the rows of its results file, rounded."""
    published = source001_published()
    assert published["table"].value_counts().to_dict() == {"part_a": 16, "q2": 10, "svm": 4}
    q2 = published[published["table"] == "q2"].reset_index(drop=True)
    results = source001_runs()
    first = results[
        (results["kind"] == "resnet")
        & (results["dataset"] == "fashion_mnist")
        & (results["model"] == q2.loc[0, "model"])
        & (results["epochs"] == q2.loc[0, "epochs"])
        & (results["pin_memory"] == q2.loc[0, "pin_memory"])
        & (results["lr"] == q2.loc[0, "lr"])
        & (results["optimizer"] == q2.loc[0, "optimizer"])
        & (results["batch_size"] == q2.loc[0, "batch_size"])
    ]
    assert len(first) == 1
    assert 100 * first["test_accuracy"].iloc[0] == pytest.approx(q2.loc[0, "test_accuracy_pct"])
    assert 1000 * first["train_time_s"].iloc[0] == pytest.approx(q2.loc[0, "time_ms"], abs=1)


def _run(**values) -> dict:
    base = {
        "kind": "resnet",
        "status": "ok",
        "dataset": "mnist",
        "model": "resnet18",
        "batch_size": 16,
        "optimizer": "sgd",
        "lr": 0.001,
        "epochs": 5,
        "pin_memory": False,
        "device": "cpu",
        "input_size": 28,
        "stem": "1ch",
        "precision": "fp32",
        "split": "pooled",
        "normalisation": "train_stats",
        "protocol": None,
        "backend": None,
        "kernel": None,
        "train_samples": None,
        "device_name": "Some CPU",
        "test_accuracy": 0.99,
        "train_time_s": 100.0,
        "fit_time_s": None,
    }
    return {**base, **values}


def test_source_001s_tables_get_our_runs_as_its_code_ran_them_else_ours_at_28_with_the_difference_named():
    as_run = {"device": "cuda", "input_size": 224, "precision": "amp", "split": "seed001", "normalisation": "half"}
    rbf = {
        "kind": "svm",
        "kernel": "rbf",
        "train_samples": 10000,
        "backend": "sklearn",
        **dict.fromkeys(["model", "optimizer", "lr"]),
    }
    rows = [
        # Part A's first row (ResNet-18, batch 16, SGD, 1e-3, 5 epochs, pin_memory False: 99.18%): as its code ran,
        # two replicates, and a 28x28 run that is then not used.
        _run(**as_run, test_accuracy=0.9900, device_name="NVIDIA H100"),
        _run(**as_run, test_accuracy=0.9910, device_name="NVIDIA H100"),
        _run(test_accuracy=0.5),
        # Its ResNet-50 row (98.98%): only ours at 28x28 on the CPU.
        _run(model="resnet50", test_accuracy=0.9850),
        # Question 2's first row (ResNet-18, Fashion-MNIST, batch 16, Adam, 1e-3, 5 epochs, pinned: 92.07%,
        # 407,906 ms): ours at 28x28 on the CPU, twice as slow.
        _run(dataset="fashion_mnist", optimizer="adam", pin_memory=False, test_accuracy=0.9000, train_time_s=815.812),
        # Part B's MNIST RBF row (95.94%, 7,150.62 ms): its protocol, and ours, which is then not used.
        _run(**rbf, protocol="seed001", test_accuracy=0.9600, fit_time_s=14.30124),
        _run(**rbf, protocol="stratified", test_accuracy=0.5, fit_time_s=1.0),
    ]
    runs = pd.DataFrame(rows)
    part_a, svm, q2 = source001_beside_ours(runs)
    assert part_a["columns"][-4:] == ["Source 001 (%)", "Ours (%)", "Difference (points)", "Our runs"]
    resnet18, resnet50 = part_a["rows"][:2]
    assert resnet18[-4:] == ["99.18", "99.05", "-0.13", "2 run(s), as its code ran (224x224, amp, its split, CUDA)"]
    assert resnet50[-4:] == ["98.98", "98.50", "-0.48", "1 run(s), ours at 28x28 on the CPU (not its protocol)"]
    assert part_a["rows"][2][-1] == "not run here" and len(part_a["rows"]) == 16
    assert q2["rows"][0][-8:] == [
        "92.07",
        "90.00",
        "-2.07",
        "407,906",
        "815,812",
        "2.00x",
        "Some CPU",
        "1 run(s), ours at 28x28 on the CPU (not its protocol)",
    ]
    assert svm["rows"][0][-8:] == [
        "95.94",
        "96.00",
        "+0.06",
        "7,151",
        "14,301",
        "2.00x",
        "Some CPU",
        "1 run(s), as its code ran",
    ]
