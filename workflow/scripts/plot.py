"""Rules plot_*: one figure (PNG and SVG) from runs.csv and history.csv; `params.figure` names it."""

import contextlib
from pathlib import Path

from ablation import plots
from ablation.aggregate import read_history, read_runs

sm = snakemake
stem = Path(sm.output.png).with_suffix("")
with open(sm.log[0], "w") as log, contextlib.redirect_stderr(log):
    runs, history = read_runs(sm.input.runs), read_history(sm.input.history)
    studies, figure = list(sm.params.studies), sm.params.figure
    if figure == "curves":
        written = plots.training_curves(runs, history, studies, sm.wildcards.dataset, sm.wildcards.model, stem)
    elif figure == "accuracy_heatmap":
        written = plots.accuracy_heatmap(runs, studies, stem)
    elif figure == "pin_memory":
        written = plots.pin_memory_times(runs, studies, stem)
    elif figure == "epochs":
        written = plots.accuracy_against_epochs(runs, history, studies, stem)
    elif figure == "cpu_vs_gpu":
        written = plots.cpu_vs_gpu_times(runs, studies, stem)
    elif figure == "svm_scaling":
        written = plots.svm_scaling(runs, studies, stem)
    else:
        raise ValueError(f"unknown figure {figure!r}")
    print(f"{figure} from studies {studies}: wrote {', '.join(map(str, written))}", file=log)
