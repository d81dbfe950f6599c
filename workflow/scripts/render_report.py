"""Rule render_report: the seeds' tables (markdown and HTML), the claims' analysis, and README.md."""

import os
from pathlib import Path

from ablation.report import readme, tables
from ablation.report.aggregate import read_history, read_runs
from ablation.report.claims import evaluate_claims, excluded_runs
from ablation.report.layout import FIGURES

sm = snakemake
readme_path = Path(sm.output.readme)
with open(sm.log[0], "w") as log:
    runs, history = read_runs(sm.input.runs), read_history(sm.input.history)
    docs = tables.build_tables(runs, sm.params.tables, set(sm.params.config_studies))
    claims = evaluate_claims(runs, history)
    analysis = tables.analysis_table(claims, excluded_runs(runs))
    env = readme.environment()
    for key, doc in {**docs, "analysis": analysis}.items():
        for fmt in ("md", "html"):
            path = readme_path.parent / "tables" / f"{key}.{fmt}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(readme.render_table(doc, fmt, env))
        print(f"{key}: {doc.omitted or f'{len(doc.sections)} section(s)'}", file=log)

    def relative(path):
        return os.path.relpath(path, readme_path.parent)

    # A figure without wildcards is one path; one with wildcards (the curves) a list of files, each with its title.
    plots = {}
    for name, files in sm.params.figures.items():
        if not FIGURES[name].wildcards:
            plots[name] = relative(files[0][1])
            continue
        item = FIGURES[name].item
        plots[name] = [
            {
                "title": ", ".join([item[0].upper() + item[1:], *(tables.show(w, v) for w, v in values.items())]),
                "path": relative(png),
            }
            for values, png in files
        ]
    context = readme.readme_context(
        runs, sm.config, docs, analysis, claims, plots, list(sm.params.configfiles), history
    )
    readme_path.write_text(readme.render_readme(context, env))
    for claim in claims:
        print(f"claim {claim.number}: {claim.verdict}", file=log)
