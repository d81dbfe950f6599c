"""Rules plot_*: one figure (PNG and SVG) of ablation.report.layout.FIGURES, which `params.figure` names."""

import contextlib
from pathlib import Path

from ablation.report import plots
from ablation.report.aggregate import read_history, read_runs

READERS = {"runs": read_runs, "history": read_history}

sm = snakemake
stem = Path(sm.output.png).with_suffix("")
with open(sm.log[0], "w") as log, contextlib.redirect_stderr(log):
    figure, studies = sm.params.figure, list(sm.params.studies)
    # The tables it draws from (its `code` input only makes an edit of the code redraw it).
    tables = {name: READERS[name](path) for name, path in sm.input.items() if name in READERS}
    written = plots.BUILDERS[figure](stem=stem, studies=studies, **tables, **dict(sm.wildcards.items()))
    print(f"{figure} from studies {studies}: wrote {', '.join(map(str, written))}", file=log)
