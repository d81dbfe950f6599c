"""Rule render_report: the seeds' tables (markdown and HTML), the claims' analysis, and README.md."""

import os
from pathlib import Path

from ablation import report
from ablation.aggregate import read_history, read_runs
from ablation.claims import evaluate_claims, excluded_runs

sm = snakemake
readme = Path(sm.output.readme)
with open(sm.log[0], "w") as log:
    runs, history = read_runs(sm.input.runs), read_history(sm.input.history)
    tables = report.build_tables(runs, sm.params.tables, set(sm.params.config_studies))
    claims = evaluate_claims(runs, history)
    analysis = report.analysis_table(claims, excluded_runs(runs))
    env = report.environment()
    for key, doc in {**tables, "analysis": analysis}.items():
        for fmt in ("md", "html"):
            path = readme.parent / "tables" / f"{key}.{fmt}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(report.render_table(doc, fmt, env))
        print(f"{key}: {doc.omitted or f'{len(doc.sections)} section(s)'}", file=log)

    def relative(path):
        return os.path.relpath(path, readme.parent)

    plots = {
        "curves": [
            {"title": f"Training curves, {report.show('dataset', d)}, {report.show('model', m)}", "path": relative(p)}
            for (d, m), p in zip(sm.params.curve_panels, sm.input.curves, strict=True)
        ],
        **{Path(p).stem: relative(p) for p in sm.input.plots},
    }
    configfiles = ", ".join(f"`{f}`" for f in sm.params.configfiles) or "the default"
    context = report.readme_context(runs, sm.config, tables, analysis, claims, plots, configfiles)
    readme.write_text(report.render_readme(context, env))
    for claim in claims:
        print(f"claim {claim.number}: {claim.verdict}", file=log)
