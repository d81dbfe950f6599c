"""Rule runs_table: runs.csv as an interactive table (ablation.report.runs_table)."""

from ablation.report.runs_table import write_runs_table

with open(snakemake.log[0], "w") as log:
    write_runs_table(snakemake.input.runs, snakemake.output.html)
    print(f"wrote {snakemake.output.html}", file=log)
