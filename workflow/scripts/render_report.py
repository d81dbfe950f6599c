"""Rule render_report: the sources' tables (markdown and HTML), the claims' analysis, and README.md."""

import os
from pathlib import Path

from ablation.report import readme, tables
from ablation.report.aggregate import read_history, read_runs
from ablation.report.claims import evaluate_claims, excluded_runs

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

    # Each figure's files as README.md links them: its wildcard values (README.md titles the curves by them), path.
    figure_files = {
        name: [(values, relative(png)) for values, png in files] for name, files in sm.params.figures.items()
    }
    images = readme.figure_images(figure_files)
    context = readme.readme_context(
        runs, sm.config, docs, analysis, claims, images, list(sm.params.configfiles), history
    )
    readme_path.write_text(readme.render_readme(context, env))
    for claim in claims:
        print(f"claim {claim.number}: {claim.verdict}", file=log)
