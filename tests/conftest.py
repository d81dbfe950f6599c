"""Shared fixtures: tiny but real IDX datasets written by the tests, and helpers to run the real workflow."""

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from filelock import FileLock

import hermetic
from ablation.data.idx import FILES, write_idx

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# Free text (a study's description, a path) that would be markup if it were not escaped: an image whose error
# handler opens a dialog, a script that sets a flag, a table cell's pipe and emphasis.
MARKUP_INJECTION = "XSS<img src=x onerror=alert(1)> <script>window.__pwned=1</script> a|b *c*"


def pytest_sessionstart(session):
    # Once, in the process that starts and ends the whole run (with pytest-xdist, not in each worker).
    if not hasattr(session.config, "workerinput"):
        session.config.stash[CHECKOUT] = hermetic.snapshot(REPO)


# The test files whose tests take longest in all (SLURM's scheduling, the offline venv and the GPU check's rehearsal,
# the benchmarks, the real workflow's runs), longest first.
LONGEST_FILES = [
    "test_slurm",
    "test_bundle",
    "test_bench",
    "test_workflow",
    "test_recovery",
    "test_chaos",
    "test_train",
    "test_notebook",
    "test_mlflow",
    "test_browser",
    "test_report",
    "test_fast_path",
    "test_inputs",
]


def pytest_collection_modifyitems(items):
    """The longest files first, so that the workers' last minutes are short tests, not one long one (with
    pytest-xdist's --dist=loadfile a worker takes a whole file, and the files go out in the order of their first
    test here); within the rest, the tests that run snakemake or train before the others."""
    rank = {name: i for i, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: (rank.get(item.module.__name__, len(rank)), item.get_closest_marker("slow") is None))


def pytest_sessionfinish(session, exitstatus):
    """Fails the run, naming each file, when the tests created, changed or deleted anything in the checkout."""
    before = session.config.stash.get(CHECKOUT, None)
    if before is None:
        return
    changes = hermetic.differences(before, hermetic.snapshot(REPO))
    if changes:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"The tests wrote into the checkout {REPO} ({len(changes)} file(s)); they must write to tmp_path:"
        lines = [message, *(f"  {line}" for line in changes)]
        if reporter:
            reporter.write_line("")
            reporter.write_sep("=", "checkout changed", red=True)
            reporter.write_line("\n".join(lines))
        else:
            print("\n".join(lines), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


CHECKOUT = pytest.StashKey[dict]()


def make_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """28x28 images a small network can tell apart: class c lights rows 2c+4..2c+5, over noise."""
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 * c + 4 : 2 * c + 6, 4:24] = 255
    return images


def write_dataset(directory: Path, n_train: int = 500, n_test: int = 100, seed: int = 0) -> dict[str, str]:
    """The four IDX files of a fake dataset in `directory`; returns their SHA-256 sums by file name."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        write_idx(directory / FILES[f"{prefix}_labels"], labels.astype(np.uint8))
        write_idx(directory / FILES[f"{prefix}_images"], make_images(labels, rng))
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in FILES.values()}


@pytest.fixture(scope="session")
def fixture_data(tmp_path_factory) -> tuple[Path, dict]:
    """A local_dir with both datasets as tiny fixtures, and the SHA-256 override a config needs to accept them."""
    root = tmp_path_factory.mktemp("idx")
    sums = {dataset: write_dataset(root / dataset, seed=i) for i, dataset in enumerate(("mnist", "fashion_mnist"))}
    return root, sums


@pytest.fixture(scope="session")
def prepared_split(fixture_data, tmp_path_factory) -> dict:
    """Fixture MNIST fetched (from local_dir) and split, as the workflow's first two rules would leave it."""
    from ablation.data.sources import fetch
    from ablation.data.split import make_split, save_split

    root, sums = fixture_data
    work = tmp_path_factory.mktemp("prepared")
    data_dir = work / "data" / "mnist"
    fetch("mnist", data_dir, ["local_dir"], local_dir=str(root), expected=sums["mnist"], log=lambda _: None)
    parts, meta = make_split(data_dir, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=0)
    save_split(parts, meta, work / "mnist.npz", work / "mnist.json")
    return {"data_dir": data_dir, "split_npz": work / "mnist.npz", "split_json": work / "mnist.json"}


def subset_of(prepared_split, directory: Path, subset: dict) -> dict:
    """The prepared split's data split again into a seeded, class-stratified subset (`data.subset`), in `directory`."""
    from ablation.data.split import make_split, save_split

    parts, meta = make_split(prepared_split["data_dir"], {"train": 0.7, "val": 0.1, "test": 0.2}, seed=0, subset=subset)
    save_split(parts, meta, directory / "mnist.npz", directory / "mnist.json")
    return {**prepared_split, "split_npz": directory / "mnist.npz", "split_json": directory / "mnist.json"}


@pytest.fixture(scope="session")
def small_split(prepared_split, tmp_path_factory) -> dict:
    """2 training, 1 validation and 1 test image per class: for runs whose every step is expensive here (bf16 on a CPU
    without bf16 instructions is emulated, tens of times slower than fp32)."""
    return subset_of(prepared_split, tmp_path_factory.mktemp("small_split"), {"train": 20, "val": 10, "test": 10})


@pytest.fixture(scope="session")
def few_split(prepared_split, tmp_path_factory) -> dict:
    """FEW_IMAGES of the prepared split (batch 32: 4 training steps an epoch), for the training tests whose assertions
    are about resuming, stopping and recording a run, not about what it learns."""
    return subset_of(prepared_split, tmp_path_factory.mktemp("few_split"), FEW_IMAGES)


# A few images of each part of the fixture's split (batch 16: 7 training steps an epoch), for the workflow tests whose
# assertions are about what the workflow does with a run, not about what it learns.
FEW_IMAGES = {"train": 100, "val": 20, "test": 20}


def tiny_grid(**changes) -> dict:
    """A ResNet study's grid: one MNIST ResNet-18 run (batch 64, Adam, lr 1e-3, one epoch) with `changes`, the factors
    a test varies or adds (added ones after these six)."""
    base = {"dataset": ["mnist"], "model": ["resnet18"], "batch_size": [64], "optimizer": ["adam"], "lr": [0.001]}
    return {**base, "epochs": [1], **changes}


def write_config(path: Path, fixture_data, subset: dict | None = None, **overrides) -> Path:
    """A workflow config on the fixture data: local_dir only, the fixtures' hashes, tiny studies; `subset` is
    `data.subset` (fewer images of each part of the split, for tests whose assertions need few steps)."""
    root, sums = fixture_data
    config = {
        "outdir": str(path.parent / "results"),
        "gpu": False,
        "data": {"sources": ["local_dir"], "local_dir": str(root), "sha256": sums, "subset": subset},
        "resnet_studies": {},
        "svm_studies": {},
    }
    config.update(overrides)
    path.write_text(yaml.safe_dump(config))
    return path


# Debian's chromium, which the browser tests drive through playwright (`.ci/run` installs it as root).
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    """One chromium for a test module's pages (test_browser, test_mlflow)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def run_snakemake(*args: str, cwd: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def checkout_copy(destination: Path) -> Path:
    """A copy of the checkout's own files (tracked, and new ones git does not ignore) at `destination`, for a test that
    edits the workflow or runs make in it: nothing the test does reaches the checkout."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def edit_copy(checkout: Path, relative: str, anchor: str, new: str) -> None:
    """In a checkout copy, the one occurrence of `anchor` in a file replaced by `new`, as a user edits it."""
    path = checkout / relative
    text = path.read_text()
    assert text.count(anchor) == 1, f"{relative}: the anchor {anchor!r} moved; the test edits the file there"
    path.write_text(text.replace(anchor, new))


def add_schema_factor(checkout: Path, default: str | None = "plain") -> None:
    """A ResNet factor `dummy` (plain or marked), last in the copy's schema, with `default` (None: without one)."""
    lines = "      dummy:\n        enum: [plain, marked]\n"
    lines += f"        default: {default}\n" if default is not None else ""
    lines += "        description: A test's factor.\n"
    edit_copy(checkout, "workflow/schemas/config.schema.yaml", "  resnet_grid:\n", lines + "  resnet_grid:\n")


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


# The default config's ResNet runs, counted by hand from the seed reports, source 000 (README of
# MLOps-Sahilpreet_Singh-B23CS1061) and source 001 (gjyotin305/MLOps-B22AI063); config/README.md shows the arithmetic,
# generated from the config. pin_memory True acts only on CUDA (DataLoader loop): elsewhere it is planned as False.
#   seed000_q1 2 datasets x 2 models x 2 batch x 2 opt x 2 lr = 32; epochs 20: +4;
#   seed000_pin_memory is on cuda: its False points are cpu_vs_gpu's cuda points, its True points +4;
#   cpu_vs_gpu: cuda points +4, cpu points +4 (on a GPU host; on a CPU host they are Q1's);
#   seed001_part_a 8 rows x 2 models x 2 datasets = 32;
#   seed001_q2 10 rows x {cpu, cuda}. Its cuda rows: 1 is a Part A run on a GPU host. Its cpu rows: 8 distinct (two
#   pairs differ only in pin_memory), and on a CPU host 2 of them are Part A runs (ResNet-18 Adam 1e-3 and ResNet-50
#   SGD 1e-3, 5 epochs, once pin_memory True is planned as False).
# The studies as the sources' code ran them are all on cuda (224x224, amp, the sources' splits), new to every study
# above:
#   seed000_q1_as_run 32; its pin_memory pair shares the True point with it (+1), its epochs pair the 10 (+1);
#   seed001_part_a_as_run 8 rows x 2 models x 2 datasets = 32; seed001_q2_as_run 10 rows, 1 of them Part A's (+9).
# seed000_q2_as_run (fp32, 3ch at 224, its split, SGD momentum 0) is new to all of them: 1 cpu row and 4 cuda rows.
AS_RUN = 32 + 1 + 1 + 32 + 9 + 4
# seed000_q1_sgd_momentum0: Q1's 16 SGD cells again at momentum 0, all new (on the device `best` gives).
SENSITIVITY = 16
CPU_ONLY_RUNS = 32 + SENSITIVITY + 4 + 32 + 6 + 1  # best -> cpu, CUDA runs left out
CPU_ONLY_LEFT_OUT = 4 + 4 + 10 + AS_RUN  # pin_memory (False = cpu_vs_gpu's cuda points, True), q2 cuda, as run
GPU_RUNS = 32 + SENSITIVITY + 4 + 4 + 4 + 32 + 9 + 8 + 1 + AS_RUN  # best -> cuda, plus the explicit cpu runs


# --- Training one grid point (shared by test_train, test_fast_path and test_slurm) ---------------------------------

TRAINING = {"weight_decay": 0.0, "num_workers": 0, "eval_batch_size": 1000}
RUN = {
    "dataset": "mnist",
    "model": "resnet18",
    "batch_size": 32,
    "optimizer": "adam",
    "lr": 0.001,
    "epochs": 3,
    "pin_memory": False,
    "device": "cpu",
    "loader": "dataloader",
    "seed": 0,
}


def train_args(split, out_dir, **run_changes) -> dict:
    """run_resnet's keyword arguments for RUN (with `run_changes`) on `split` (a split fixture), writing under
    `out_dir`."""
    from ablation.train.resnet import RunFiles  # torch: only for the tests that train

    return {
        "run": {**RUN, **run_changes},
        "files": RunFiles(
            data_dir=str(split["data_dir"]),
            split_npz=str(split["split_npz"]),
            split_json=str(split["split_json"]),
            metrics=str(out_dir / "metrics.json"),
            checkpoint=str(out_dir / "checkpoint" / "checkpoint.pt"),
        ),
        "training": TRAINING,
        "threads": 1,
    }


def train_args_json(args: dict) -> str:
    """train_args as the JSON `python -m ablation.train.resnet ARGS.json` reads."""
    return json.dumps({**args, "files": dataclasses.asdict(args["files"])})


def without_times(record: dict) -> dict:
    """The metrics that must be identical between two runs of the same point (times, dates and the conditions of the
    measurement aside)."""
    # An epoch a signal stopped and a later attempt finished says where it stopped: a record of the attempts, not a
    # metric.
    history = [
        {k: v for k, v in h.items() if not k.endswith("_time_s") and k != "stopped_at_steps"} for h in record["history"]
    ]
    kept = {
        k: v
        for k, v in record.items()
        if not k.endswith("_time_s") and k not in ("provenance", "history", "conditions")
    }
    return {**kept, "history": history}


# --- A finished tiny study (shared by test_mlflow, test_notebook and test_recovery) --------------------------------

# One ResNet run of two epochs (an epoch curve), its CUDA twin left out on a host without a GPU ("not run"), and one
# small SVM: each kind of row runs.csv has, at the fewest and smallest runs.
FINISHED_STUDIES = {
    "resnet_studies": {"tiny": {"grid": tiny_grid(epochs=[2], device=["cpu", "cuda"])}},
    "svm_studies": {"svm": {"grid": {"dataset": ["mnist"], "kernel": ["rbf"], "train_samples": [50], "seed": [0]}}},
    "report": {"tables": {"part_a": [], "q1": ["tiny"], "pin_memory": [], "epochs": [], "svm": ["svm"], "q2": []}},
}


@pytest.fixture(scope="session")
def finished_tiny_study(fixture_data, tmp_path_factory, worker_id) -> Path:
    """A working directory whose study (config.yaml, outdir `results` relative to it) is trained and aggregated
    (runs.csv), its report not yet made; a copy of the directory (its .snakemake records included) is the same study,
    finished. Read it, or copy it: it is trained once for the whole run, in whichever pytest-xdist worker asks first,
    under a lock the others wait on (a session fixture is otherwise built once per worker)."""
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    work = shared / "finished_tiny_study"
    with FileLock(str(shared / "finished_tiny_study.lock")):
        if not (work / "results" / "runs.csv").exists():
            work.mkdir(exist_ok=True)
            config = write_config(
                work / "config.yaml", fixture_data, subset=FEW_IMAGES, outdir="results", **FINISHED_STUDIES
            )
            workflow_files = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", str(config)]
            run_snakemake("--cores", "2", *workflow_files, "--until", "aggregate")
    return work
