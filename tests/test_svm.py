"""The SVM baseline for real on fixture data: a tiny fit, the stratified sample, determinism, schema, too-large runs."""

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ablation.data.idx import FILES, read_idx
from ablation.data.split import load_pooled, load_split, make_split, save_split
from ablation.outputs.records import read_json, validate_metrics
from ablation.study.hyperparameters import hyperparameters
from ablation.svm import TrainSamplesError, run_svm, sample_training_indices

SVM_CONFIG = {"C": 1.0, "gamma": "scale", "degree": 3, "coef0": 0.0}
RUN = {"dataset": "mnist", "kernel": "rbf", "train_samples": 200, "seed": 0}


def svm_args(prepared_split, out_dir, **run_changes) -> dict:
    run = {**RUN, **run_changes}
    return {
        "run": run,
        "hyperparameters": hyperparameters("svm", run["kernel"], SVM_CONFIG),
        "data_dir": prepared_split["data_dir"],
        "split_npz": prepared_split["split_npz"],
        "split_json": prepared_split["split_json"],
        "metrics_path": out_dir / "metrics.json",
    }


def test_each_run_gets_only_the_hyperparameters_it_reads():
    assert hyperparameters("svm", "rbf", SVM_CONFIG) == {"C": 1.0, "gamma": "scale"}
    assert hyperparameters("svm", "poly", SVM_CONFIG) == SVM_CONFIG
    training = {"weight_decay": 0.0, "num_workers": 0}  # SGD's momentum is a factor, in the run's path
    assert hyperparameters("resnet", "sgd", training) == {"weight_decay": 0.0}
    assert hyperparameters("resnet", "adam", training) == {"weight_decay": 0.0}


@pytest.mark.parametrize("kernel", ["rbf", "poly"])
def test_a_tiny_fit_writes_valid_metrics_and_learns_the_fixture_classes(prepared_split, tmp_path, kernel):
    record = run_svm(**svm_args(prepared_split, tmp_path, kernel=kernel))
    assert read_json(tmp_path / "metrics.json") == record
    validate_metrics(record)
    assert record["kind"] == "svm" and record["status"] == "ok"
    assert record["params"] == {**RUN, "kernel": kernel, "protocol": "stratified", "backend": "sklearn"}
    assert record["svm_hyperparameters"] == hyperparameters("svm", kernel, SVM_CONFIG)
    assert record["train_samples_actual"] == 200 and sum(record["train_class_counts"]) == 200
    # Tested on the whole test part of the split.
    assert record["test_samples"] == record["split"]["test"] == len(load_split(prepared_split["split_npz"])["test"])
    assert record["n_support_vectors"] == sum(record["n_support_vectors_per_class"]) <= 200
    # The fixture classes are bright bars at class-dependent rows: any working SVM separates them.
    assert record["test_accuracy"] > 0.9
    assert record["fit_time_s"] > 0 and record["predict_time_s"] > 0
    assert record["provenance"]["packages"]["scikit-learn"] is not None


@pytest.mark.parametrize("kernel", ["rbf", "poly"])
def test_the_sklearnex_backend_fits_the_same_svc_and_says_so(prepared_split, tmp_path, kernel):
    """scikit-learn-intelex's SVC, opt-in: the same sample, hyperparameters and predictions as scikit-learn's on the
    fixture, recorded with its version and the threads it was given."""
    ours = run_svm(**svm_args(prepared_split, tmp_path / "sklearn", kernel=kernel))
    intel = run_svm(**svm_args(prepared_split, tmp_path / "sklearnex", kernel=kernel, backend="sklearnex"), threads=2)
    validate_metrics(intel)
    assert intel["params"] == {**ours["params"], "backend": "sklearnex"}
    assert intel["test_accuracy"] == ours["test_accuracy"] and intel["train_class_counts"] == ours["train_class_counts"]
    assert intel["provenance"]["packages"]["scikit-learn-intelex"] is not None
    assert intel["conditions"]["threads"] == 2 and ours["conditions"]["threads"] == 1
    # The class that fitted each, not only an installed package's version.
    from sklearnex.svm import SVC as IntelSVC

    assert ours["svc_class"] == f"{SVC.__module__}.{SVC.__qualname__}" == "sklearn.svm._classes.SVC"
    assert intel["svc_class"] == f"{IntelSVC.__module__}.{IntelSVC.__qualname__}" != ours["svc_class"]


def test_the_sample_is_stratified_and_seeded(prepared_split):
    _, labels = load_pooled(prepared_split["data_dir"])
    train = load_split(prepared_split["split_npz"])["train"]
    run = {**RUN, "train_samples": 100}
    sample = sample_training_indices(train, labels, run)
    assert len(sample) == len(set(sample)) == 100 and set(sample) <= set(train)
    # Each class keeps its share of the training part (fixture: balanced, so 10 per class, +-1 for rounding).
    expected = np.bincount(labels[train], minlength=10) * 100 / len(train)
    assert np.abs(np.bincount(labels[sample], minlength=10) - expected).max() <= 1
    assert np.array_equal(sample, sample_training_indices(train, labels, run))
    assert not np.array_equal(sample, sample_training_indices(train, labels, {**run, "seed": 1}))
    # Asking for the whole training part gives all of it.
    assert np.array_equal(sample_training_indices(train, labels, {**run, "train_samples": len(train)}), train)


def test_same_run_twice_gives_the_same_sample_and_results(prepared_split, tmp_path):
    first = run_svm(**svm_args(prepared_split, tmp_path / "first"))
    second = run_svm(**svm_args(prepared_split, tmp_path / "second"))
    timing = ("fit_time_s", "predict_time_s", "provenance", "conditions")
    assert {k: v for k, v in first.items() if k not in timing} == {k: v for k, v in second.items() if k not in timing}


def test_too_many_train_samples_fails_naming_the_run_and_both_sizes(prepared_split, tmp_path):
    available = len(load_split(prepared_split["split_npz"])["train"])
    args = svm_args(prepared_split, tmp_path, train_samples=available + 1, kernel="poly", seed=3)
    with pytest.raises(TrainSamplesError) as error:
        run_svm(**args)
    message = str(error.value)
    assert f"SVM run dataset=mnist kernel=poly train_samples={available + 1} seed=3" in message
    assert f"asks for {available + 1} training images" in message and f"split has {available}." in message
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize("protocol", ["seed001", "seed000"])
def test_the_sources_protocols_fit_the_first_training_images_and_score_the_official_test_set(
    prepared_split, tmp_path, protocol
):
    """seed001: the first n images of the training file, raw 0-255 pixels, the official test set. seed000: the same
    images standardised, scored on them too. Checked against sklearn on the arrays each protocol names."""
    data_dir = prepared_split["data_dir"]
    parts, meta = make_split(data_dir, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=0, protocol="seed001")
    save_split(parts, meta, tmp_path / "seed001.npz", tmp_path / "seed001.json")
    args = svm_args(prepared_split, tmp_path, train_samples=150, protocol=protocol)
    record = run_svm(**{**args, "split_npz": tmp_path / "seed001.npz", "split_json": tmp_path / "seed001.json"})
    validate_metrics(record)
    assert record["params"]["protocol"] == protocol

    images, labels = load_pooled(data_dir)
    in_train_file = len(read_idx(data_dir / FILES["train_labels"]))
    pixels = images.reshape(len(images), -1).astype(np.float64)
    x_train, y_train = pixels[:150], labels[:150]  # the first 150 of the training file, in file order
    x_test, y_test = pixels[in_train_file:], labels[in_train_file:]  # the test file
    if protocol == "seed000":
        scaler = StandardScaler().fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    model = SVC(kernel="rbf", C=1.0, gamma="scale").fit(x_train, y_train)
    assert record["train_class_counts"] == np.bincount(y_train, minlength=10).tolist()
    assert record["test_samples"] == len(y_test)
    assert record["test_accuracy"] == float(np.mean(model.predict(x_test) == y_test))
    # The pixels as each protocol feeds them: raw 0-255 (seed001) or standardised (seed000), not scaled to [0, 1].
    assert record["gamma_value"] == pytest.approx(1 / (784 * x_train.var()))
    if protocol == "seed000":
        assert record["train_accuracy"] == float(np.mean(model.predict(x_train) == y_train))
    else:
        assert record["train_accuracy"] is None


def test_a_sources_protocol_cannot_fit_more_images_than_the_training_file_has(prepared_split, tmp_path):
    in_train_file = len(read_idx(prepared_split["data_dir"] / FILES["train_labels"]))
    args = svm_args(prepared_split, tmp_path, train_samples=in_train_file + 1, protocol="seed001")
    with pytest.raises(TrainSamplesError, match=f"the first {in_train_file + 1} images of the training file"):
        run_svm(**args)
