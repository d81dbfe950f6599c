"""The SVM baseline: an SVC on 784 flattened pixels, nothing tuned, fitted by scikit-learn's own SVC or, opt-in,
scikit-learn-intelex's (the run's `backend` factor), under one of three protocols (the run's `protocol` factor):

- `stratified` (ours): a seeded, class-stratified sample of the split's training part, pixels scaled to [0, 1], tested
  on the split's test part.
- `seed001` (source 001's code): the first `train_samples` images of the training file in file order, raw 0-255 pixels,
  tested on the official test set.
- `seed000` (source 000's notebook): the first `train_samples` images of the training file (all 60,000 as it ran),
  standardised by a StandardScaler fitted on them, scored on those same images (the accuracy it published) and on
  the official test set.
"""

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.svm import SVC

from ablation.data.idx import FILES, read_idx
from ablation.data.split import load_pooled, load_split, stratified_subset
from ablation.outputs import provenance
from ablation.outputs.conditions import Conditions
from ablation.outputs.records import read_json, write_metrics
from ablation.study.factors import complete_factors

N_CLASSES = 10


class TrainSamplesError(ValueError):
    """A run asks for more (or fewer) training images than a stratified sample of the training part can give."""


def run_name(run: dict) -> str:
    return " ".join(f"{factor}={run[factor]}" for factor in ("dataset", "kernel", "train_samples", "seed"))


def sample_training_indices(train_indices: np.ndarray, labels: np.ndarray, run: dict) -> np.ndarray:
    """A seeded, class-stratified sample of exactly `train_samples` of the training part (all of it if equal)."""
    asked, available = run["train_samples"], len(train_indices)
    if asked > available:
        raise TrainSamplesError(
            f"SVM run {run_name(run)} asks for {asked} training images, but the training part of the split has "
            f"{available}. Lower train_samples in svm_studies, or raise data.split.train (data.subset.train)."
        )
    if asked < N_CLASSES:
        raise TrainSamplesError(
            f"SVM run {run_name(run)}: train_samples={asked} is below one image per class ({N_CLASSES} classes)."
        )
    return stratified_subset(train_indices, labels, asked, run["seed"])


def first_of_the_training_file(run: dict, train_file_images: int) -> np.ndarray:
    """The sources' training images: the first `train_samples` of the training file, in file order."""
    if run["train_samples"] > train_file_images:
        raise TrainSamplesError(
            f"SVM run {run_name(run)} asks for the first {run['train_samples']} images of the training file, which "
            f"has {train_file_images}. Lower train_samples in svm_studies."
        )
    return np.arange(run["train_samples"])


def protocol_data(run: dict, images, labels, parts, train_file_images: int):
    """(x_train, y_train, x_test, y_test) of the run's protocol (module docstring). `parts`: its split's indices; the
    seeds' protocols read the `seed001` split, whose test part is the official test set."""
    if run["protocol"] == "stratified":
        train = sample_training_indices(parts["train"], labels, run)
    else:
        train = first_of_the_training_file(run, train_file_images)
    test = parts["test"]
    # (N, 784) float64: libsvm works in float64, so no copy is made later.
    flat_train = images[train].reshape(len(train), -1).astype(np.float64)
    flat_test = images[test].reshape(len(test), -1).astype(np.float64)
    if run["protocol"] == "stratified":
        flat_train, flat_test = flat_train / 255.0, flat_test / 255.0
    elif run["protocol"] == "seed000":
        from sklearn.preprocessing import StandardScaler

        scaler = StandardScaler().fit(flat_train)
        flat_train, flat_test = scaler.transform(flat_train), scaler.transform(flat_test)
    return flat_train, labels[train], flat_test, labels[test]


def resolved_gamma(gamma, x_train: np.ndarray) -> float:
    """The numeric gamma SVC uses: 'scale' = 1 / (n_features * var(X)), 'auto' = 1 / n_features (sklearn's docs)."""
    if gamma == "scale":
        return float(1.0 / (x_train.shape[1] * x_train.var()))
    if gamma == "auto":
        return 1.0 / x_train.shape[1]
    return float(gamma)


def svc_class(backend: str, threads: int = 1):
    """The SVC of the run's backend: scikit-learn's own (libsvm: one thread), or scikit-learn-intelex's (same
    interface and defaults), whose oneDAL is held to the job's `threads`."""
    if backend == "sklearnex":
        import daal4py
        from sklearnex.svm import SVC as IntelSVC

        daal4py.daalinit(threads)
        return IntelSVC
    return SVC


def fit_and_test(
    x_train, y_train, x_test, y_test, kernel: str, hyperparameters: dict, backend: str = "sklearn", threads: int = 1
) -> tuple[SVC, dict]:
    """Fit one SVC of `backend` and test it: (the model, its figures); wall times by time.perf_counter around fit and
    predict alone."""
    model = svc_class(backend, threads)(kernel=kernel, **hyperparameters)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(x_train, y_train)
    fit_time_s = time.perf_counter() - start
    fit_cpu_time_s = time.process_time() - cpu_start
    start = time.perf_counter()
    predicted = model.predict(x_test)
    predict_time_s = time.perf_counter() - start
    return model, {
        # The class that fitted, by its full name: which implementation a backend factor gave, as it ran.
        "svc_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "test_accuracy": float(np.mean(predicted == y_test)),
        "fit_time_s": fit_time_s,
        "fit_cpu_time_s": fit_cpu_time_s,
        "predict_time_s": predict_time_s,
        "n_support_vectors": int(model.n_support_.sum()),
        "n_support_vectors_per_class": [int(n) for n in model.n_support_],
    }


def load_protocol_data(run: dict, data_dir, split_npz, log) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) of the run's protocol; a run asking for more training images than its
    protocol has stops, saying so in its log."""
    images, labels = load_pooled(data_dir)
    train_file_images = len(read_idx(Path(data_dir) / FILES["train_labels"]))
    try:
        return protocol_data(run, images, labels, load_split(split_npz), train_file_images)
    except TrainSamplesError as err:
        print(err, file=log, flush=True)
        raise


def run_svm(
    run: dict,
    hyperparameters: dict,
    data_dir,
    split_npz,
    split_json,
    metrics_path,
    log=None,
    exclusive: bool = False,
    threads: int = 1,
) -> dict:
    """Train and test one SVM run (dataset, kernel, train_samples, seed, protocol, backend); write its metrics JSON;
    return it. `exclusive`: whether it runs alone on the machine (a timed study), recorded with its conditions;
    `threads`: the job's, which a `sklearnex` fit uses (libsvm uses one)."""
    log = log or sys.stderr
    run = complete_factors({k: v.item() if hasattr(v, "item") else v for k, v in run.items()}, kind="svm")
    conditions = Conditions("cpu", exclusive, torch_run=False)
    threads = 1 if run["backend"] == "sklearn" else threads
    started_at = provenance.now()
    split_meta, manifest = read_json(split_json), read_json(Path(data_dir) / "manifest.json")
    x_train, y_train, x_test, y_test = load_protocol_data(run, data_dir, split_npz, log)
    print(
        f"SVM {run_name(run)} ({run['protocol']} protocol, {run['backend']}) {hyperparameters}: fitting on "
        f"{len(y_train)} images",
        file=log,
        flush=True,
    )
    model, result = fit_and_test(
        x_train, y_train, x_test, y_test, run["kernel"], hyperparameters, run["backend"], threads
    )
    fit_cpu_time_s = result.pop("fit_cpu_time_s")
    # Source 000 published the accuracy on the images it fitted on: scored here too, outside the timed predict.
    train_accuracy = float(np.mean(model.predict(x_train) == y_train)) if run["protocol"] == "seed000" else None
    print(
        f"test accuracy {result['test_accuracy']:.4f} on {len(y_test)} images | fit {result['fit_time_s']:.2f} s, "
        f"predict {result['predict_time_s']:.2f} s | {result['n_support_vectors']} support vectors",
        file=log,
        flush=True,
    )
    record = {
        "kind": "svm",
        "params": dict(run),
        "status": "ok",
        **result,
        "svm_hyperparameters": dict(hyperparameters),
        "gamma_value": resolved_gamma(hyperparameters["gamma"], x_train),
        "train_samples_actual": len(y_train),
        "train_accuracy": train_accuracy,
        "train_class_counts": np.bincount(y_train, minlength=N_CLASSES).tolist(),
        "test_samples": len(y_test),
        "split": {p: split_meta["sizes"][p] for p in ("train", "val", "test")},
        "provenance": provenance.collect(manifest, split_meta, run["seed"], started_at, device=None),
        # libsvm fits on one thread whatever the host has; oneDAL (sklearnex) on every core it sees. The timed work
        # is the fit.
        "conditions": conditions.finish(threads, fit_cpu_time_s, result["fit_time_s"]),
    }
    record["provenance"]["threads"] = threads
    write_metrics(metrics_path, record)
    return record
