# Two commands matter: `make run` (set up, fetch the data, run the study) and `make test` (set up, run the tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
SNAKEMAKE := $(BIN)/snakemake
# TORCH=lock (default): torch and torchvision as requirements.lock pins them. TORCH=system: the host Python's own (a
# cluster module, Colab, a CUDA build): the venv sees the host's packages and installs the rest of the lock.
TORCH ?= lock
# OFFLINE=dist/bundle: install from a `make bundle` directory, no network (pip --no-index), and read the data from it.
OFFLINE ?=
# Extra snakemake arguments for run/demo, e.g. ARGS='--profile profiles/slurm'.
ARGS ?=
# The study every target that runs, plans, reports or bundles works on: CONFIG=my.yaml for all of them alike.
CONFIG ?= config/config.yaml
# Last on snakemake's command line: --configfile takes every argument after it.
CONFIGFILES = --configfile $(CONFIG) $(if $(OFFLINE),$(OFFLINE)/offline.yaml)
# The study's outdir, where its report goes.
OUTDIR = $(shell PYTHONPATH=workflow/scripts $(BIN)/python -c \
  'import sys; from ablation.study.config import load_config; print(load_config(sys.argv[1])["outdir"])' $(CONFIG))

.PHONY: venv run demo test lint plan calibrate bench bench-timing lock config-docs bundle gpu-bundle gpu-check status \
  migrate mlflow mlflow-ui

# The venv is rebuilt only when the lock (or the TORCH mode) changes. pip (not uv/poetry) finds the pinned torch on
# local disks.
STAMP := $(VENV)/.installed$(if $(filter system,$(TORCH)),-system-torch)
LOCK := $(if $(filter system,$(TORCH)),requirements-system-torch.lock,requirements.lock)
$(STAMP): $(LOCK)
	$(PYTHON) -m venv $(if $(filter system,$(TORCH)),--clear --system-site-packages) $(VENV)
ifeq ($(TORCH),system)
	@$(BIN)/python -c 'import torch, torchvision' 2>/dev/null || { echo "TORCH=system: the host Python \
	($(PYTHON)) has no torch/torchvision to use. Install them there, or leave TORCH out to install the lock's."; exit 1; }
	@$(BIN)/python -c 'import torch, torchvision; print("Using the host'"'"'s torch", torch.__version__, "CUDA", \
	torch.version.cuda, "torchvision", torchvision.__version__, "from", torch.__file__)'
endif
ifneq ($(OFFLINE),)
ifneq ($(TORCH),system)
	$(error OFFLINE=$(OFFLINE) carries no torch: add TORCH=system, so that the venv uses the host's own)
endif
endif
ifeq ($(OFFLINE),)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r $(LOCK)
else
	$(BIN)/pip install --quiet --no-index --find-links $(OFFLINE)/wheels $$(cat $(OFFLINE)/pip-options 2>/dev/null) \
	  -r $(OFFLINE)/requirements.txt
	@# A bundle takes some of the host's packages at versions nobody wrote down: say where they disagree, and go on.
	@$(BIN)/pip check && echo "pip check: no conflicts" || echo "pip check: the conflicts above are the host's \
	packages against the bundle's; the run goes on (make bundle TARGET_FREEZE=... with their versions avoids them)"
endif
	touch $@

venv: $(STAMP)

# The optional extra (MLflow, and the notebook's test runner) on top of the core lock, whose versions it keeps.
MLFLOW_STAMP := $(STAMP)-mlflow
$(MLFLOW_STAMP): requirements-mlflow.lock $(STAMP)
	$(BIN)/pip install --quiet -r requirements-mlflow.lock -c $(LOCK)
	touch $@

## make run: the full study (config/config.yaml, or CONFIG=...) on this machine; prints the plan first, and on a
##   terminal asks before a plan of over a day on a host without a GPU (YES=1 does not ask)
run: venv
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.plan --configfile $(CONFIG) --cores $(NCORES) --confirm \
	  $(if $(YES),--yes)
	$(SNAKEMAKE) --cores $(CORES) $(ARGS) $(CONFIGFILES)

## make demo: the same pipeline, small (config/demo.yaml), into results/demo/
demo: venv
	$(MAKE) --no-print-directory run CONFIG=config/demo.yaml YES=1

## make report / make demo-report: report.html of a finished study (snakemake --report) in its outdir's report/
.PHONY: report demo-report
report: venv
	$(SNAKEMAKE) --cores $(CORES) --report $(OUTDIR)/report/report.html $(CONFIGFILES)

demo-report: venv
	$(MAKE) --no-print-directory report CONFIG=config/demo.yaml

## make mlflow: every run of a finished study (CONFIG=...) in an MLflow tracking store, by default <outdir>/mlflow.db
##   (config `mlflow.tracking_uri`: a server); adds only the runs new since, and installs MLflow the first time
mlflow: $(MLFLOW_STAMP)
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.mlflow_store --configfile $(CONFIG)

## make mlflow-ui: MLflow's UI on the study's store (CONFIG=...), on http://127.0.0.1:$(PORT) (PORT=5000)
PORT ?= 5000
mlflow-ui: $(MLFLOW_STAMP)
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.mlflow_store --configfile $(CONFIG) --ui --port $(PORT)

## make test: the test suite (with the optional extra installed: its tests run too)
test: venv $(MLFLOW_STAMP)
	$(BIN)/python -m pytest

## make mutants: the mutation check, apart from make test (tens of minutes): each small breakage listed in
##   benchmarks/mutants.yaml applied alone to a copy of the checkout and its tests run; fails naming any breakage the
##   suite lets pass (ARGS='--only NAME' for one, '--list' for all). A change of the code keeps the list's texts current
.PHONY: mutants
mutants: venv
	$(BIN)/python benchmarks/mutants.py $(ARGS)

## make plan: runs per study and device, estimated compute and local wall time (CONFIG=..., CORES=N; GPU=true plans
##   the GPU runs as the SLURM profile does, on a host without a GPU)
NCORES ?= $(if $(filter all,$(CORES)),$(shell nproc),$(CORES))
plan: venv
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.plan --configfile $(CONFIG) --cores $(NCORES) \
	  $(if $(GPU),--gpu $(GPU))

## make migrate: move the runs an earlier version of the workflow recorded in its earlier layout to their new paths
##   (CONFIG=...); the workflow and make plan stop, naming this command, while such runs are there
migrate: venv
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.migrate --configfile $(CONFIG)

## make status: runs done / running / pending / failed / diverged per study, each running run's epoch and step, and
##   the ETA (CONFIG=config/demo.yaml for the demo)
status: venv
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.status --configfile $(CONFIG) --cores $(NCORES)

## make calibrate: measure training images/s on this host (resources/throughput.json), used by plan and SLURM runtimes
calibrate: venv
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.calibrate --out resources/throughput.json

## make bench: fast path vs the sources' loop, grid parallelism, workflow overhead (prints a table, writes JSON)
bench: venv
	$(SNAKEMAKE) --cores $(CORES) resources/data/mnist/manifest.json
	$(BIN)/python benchmarks/bench.py --out results/bench/bench.json

## make bench-timing: one timed run repeated alone and beside a concurrent grid, the spread of its epoch time each way
bench-timing: venv
	$(SNAKEMAKE) --cores $(CORES) resources/data/mnist/manifest.json
	$(BIN)/python benchmarks/bench.py --skip training grid overhead --out results/bench/timing.json

## make gpu-check BUDGET=480: on a GPU host, in order of value and as far as BUDGET seconds go: the CUDA tests, the
##   GPU benchmark, source 001's Question 2 row 1 through snakemake at 224 (as run) and 28x28 with both loops, gpu_slots
##   4 against 1, the default config's CUDA runs projected from them; a JSON and a log into benchmarks/results/, each
##   part saved as it ends (ARGS=--dry: the expected time of each part, nothing run; docs/gpu-check.md)
gpu-check: venv
	PYTHONUNBUFFERED=1 $(BIN)/python benchmarks/gpu_check.py $(if $(BUDGET),--budget $(BUDGET)) $(ARGS)

## make config-docs: regenerate config/README.md's key tables and run counts from the schema and config/config.yaml
config-docs: venv
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.study.config_docs --write config/README.md

## make lint: snakemake --lint, snakefmt, ruff
lint: venv
	$(SNAKEMAKE) --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make bundle: wheels (all but torch), verified data and a manifest for a machine without network, into BUNDLE
##   (PY_VERSION=3.12 PLATFORM=manylinux_2_28_x86_64 TARGET_FREEZE=its-pip-freeze.txt narrow it to that machine;
##   DATASETS=fashion_mnist carries one dataset)
BUNDLE ?= dist/bundle
bundle: venv
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.bundle --out $(BUNDLE) --configfile $(CONFIG) \
	  $(if $(PY_VERSION),--python-version $(PY_VERSION)) $(if $(PLATFORM),--platform $(PLATFORM)) \
	  $(if $(TARGET_FREEZE),--target-freeze $(TARGET_FREEZE)) $(if $(DATASETS),--datasets $(DATASETS)) \
	  $(if $(WITHOUT),--without $(WITHOUT)) $(if $(MAX_MIB),--max-mib $(MAX_MIB))

## make gpu-bundle: the bundle for the GPU host the GPU check is sized for (benchmarks/gpu-host-freeze.txt: Python 3.12,
##   its torch and packages), Fashion-MNIST only, without the browser tests, the opt-in SVM backend, SLURM and pulp
##   (snakemake's ILP scheduler), at most 56 MiB; into dist/gpu-bundle (BUNDLE=...)
gpu-bundle: BUNDLE = dist/gpu-bundle
gpu-bundle: PY_VERSION = 3.12
gpu-bundle: PLATFORM = manylinux_2_28_x86_64
gpu-bundle: DATASETS = fashion_mnist
gpu-bundle: TARGET_FREEZE = benchmarks/gpu-host-freeze.txt
gpu-bundle: WITHOUT = browser sklearnex slurm ilp
gpu-bundle: MAX_MIB = 56
gpu-bundle: bundle

## make lock: re-pin requirements.lock from requirements.in, and requirements-mlflow.lock from requirements-mlflow.in
##   within the core lock's versions (needs a working venv); the pins only some platforms need get their markers
lock: venv
	$(BIN)/pip install --quiet -r requirements.in
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.lockfile requirements.in --out requirements.lock --header \
	  "Full pinned closure of requirements.in (generated by \`make lock\`; torch and torchvision as requirements.in pins them)."
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.bundle --write-system-torch-lock requirements-system-torch.lock
	$(BIN)/pip install --quiet -r requirements-mlflow.in -c requirements.lock
	PYTHONPATH=workflow/scripts $(BIN)/python -m ablation.ops.lockfile requirements-mlflow.in --out requirements-mlflow.lock \
	  --exclude-lock requirements.lock --header \
	  "Pinned closure of requirements-mlflow.in beyond requirements.lock (generated by \`make lock\`, within its versions)."
	touch $(MLFLOW_STAMP)
