# From the runs' JSONs to the study's report: runs.csv, the figures, the seeds' tables (markdown and HTML), the
# analysis of seed 000's claims and README.md; `snakemake --report` collects them into report.html. Which studies
# feed which table and figure: config `report.tables`. The report's file set and helpers: common.smk.


# Seconds of pandas and matplotlib each: on a cluster they run where snakemake runs instead of waiting in the queue.
localrules:
    aggregate,
    plot_curves,
    plot_accuracy_heatmap,
    plot_pin_memory,
    plot_epochs,
    plot_cpu_vs_gpu,
    plot_svm_scaling,
    render_report,


rule aggregate:
    input:
        resnet=resnet_metrics(),
        svm=svm_metrics(),
    output:
        runs=report(
            f"{OUTDIR}/runs.csv",
            caption="../../report/runs.rst",
            category="Data",
            labels={"item": "runs.csv", "studies": "all"},
        ),
        history=f"{OUTDIR}/history.csv",
    log:
        f"{OUTDIR}/logs/report/aggregate.log",
    conda:
        "../../envs/report.yaml"
    params:
        # Plan rows in the order of the inputs: each metrics.json gets its studies, and is checked against its run.
        resnet_plan=RESNET_RUNS.to_dict("records"),
        svm_plan=SVM_RUNS.to_dict("records"),
        # Runs left out of the plan have no JSON; they still get a row ("not run: no GPU").
        resnet_left_out=RESNET_LEFT_OUT.to_dict("records"),
    script:
        "../scripts/aggregate.py"


rule plot_curves:
    input:
        runs=f"{OUTDIR}/runs.csv",
        history=f"{OUTDIR}/history.csv",
    output:
        png=figure_png(
            "curves",
            {"item": "training curves", "dataset": "{dataset}", "model": "{model}"},
            stem="curves_{dataset}_{model}",
        ),
        svg=f"{REPORT}/plots/curves_{{dataset}}_{{model}}.svg",
    log:
        f"{OUTDIR}/logs/report/plot_curves_{{dataset}}_{{model}}.log",
    wildcard_constraints:
        model=r"resnet\d+",
    conda:
        "../../envs/report.yaml"
    params:
        figure="curves",
        studies=REPORT_TABLES["q1"],
    script:
        "../scripts/plot.py"


rule plot_accuracy_heatmap:
    input:
        runs=f"{OUTDIR}/runs.csv",
        history=f"{OUTDIR}/history.csv",
    output:
        png=figure_png(
            "accuracy_heatmap",
            {"item": "accuracy across the grid", "dataset": "all", "model": "all"},
        ),
        svg=f"{REPORT}/plots/accuracy_heatmap.svg",
    log:
        f"{OUTDIR}/logs/report/plot_accuracy_heatmap.log",
    conda:
        "../../envs/report.yaml"
    params:
        figure="accuracy_heatmap",
        studies=REPORT_TABLES["q1"],
    script:
        "../scripts/plot.py"


rule plot_pin_memory:
    input:
        runs=f"{OUTDIR}/runs.csv",
        history=f"{OUTDIR}/history.csv",
    output:
        png=figure_png(
            "pin_memory",
            {"item": "pin_memory training time", "dataset": "all", "model": "all"},
        ),
        svg=f"{REPORT}/plots/pin_memory.svg",
    log:
        f"{OUTDIR}/logs/report/plot_pin_memory.log",
    conda:
        "../../envs/report.yaml"
    params:
        figure="pin_memory",
        studies=REPORT_TABLES["pin_memory"],
    script:
        "../scripts/plot.py"


rule plot_epochs:
    input:
        runs=f"{OUTDIR}/runs.csv",
        history=f"{OUTDIR}/history.csv",
    output:
        png=figure_png(
            "epochs",
            {"item": "accuracy against epochs", "dataset": "all", "model": "all"},
        ),
        svg=f"{REPORT}/plots/epochs.svg",
    log:
        f"{OUTDIR}/logs/report/plot_epochs.log",
    conda:
        "../../envs/report.yaml"
    params:
        figure="epochs",
        studies=REPORT_TABLES["epochs"],
    script:
        "../scripts/plot.py"


rule plot_cpu_vs_gpu:
    input:
        runs=f"{OUTDIR}/runs.csv",
        history=f"{OUTDIR}/history.csv",
    output:
        png=figure_png(
            "cpu_vs_gpu",
            {
                "item": "CPU against GPU training time",
                "dataset": "all",
                "model": "all",
            },
        ),
        svg=f"{REPORT}/plots/cpu_vs_gpu.svg",
    log:
        f"{OUTDIR}/logs/report/plot_cpu_vs_gpu.log",
    conda:
        "../../envs/report.yaml"
    params:
        figure="cpu_vs_gpu",
        studies=REPORT_TABLES["q2"],
    script:
        "../scripts/plot.py"


rule plot_svm_scaling:
    input:
        runs=f"{OUTDIR}/runs.csv",
        history=f"{OUTDIR}/history.csv",
    output:
        png=figure_png(
            "svm_scaling",
            {"item": "SVM fit time against n", "dataset": "all", "model": "SVM"},
        ),
        svg=f"{REPORT}/plots/svm_scaling.svg",
    log:
        f"{OUTDIR}/logs/report/plot_svm_scaling.log",
    conda:
        "../../envs/report.yaml"
    params:
        figure="svm_scaling",
        studies=REPORT_TABLES["svm"],
    script:
        "../scripts/plot.py"


rule render_report:
    input:
        runs=f"{OUTDIR}/runs.csv",
        history=f"{OUTDIR}/history.csv",
        # The figures README.md embeds; listed so that it is written once they exist.
        curves=curve_plots(),
        plots=[f"{REPORT}/plots/{figure}.png" for figure in REPORT_PLOTS],
        templates=REPORT_TEMPLATES,
    output:
        readme=report(
            f"{REPORT}/README.md",
            caption="../../report/README.rst",
            category="Data",
            labels={"item": "README.md (the whole report)", "studies": "all"},
        ),
        tables_md=[f"{REPORT}/tables/{table}.md" for table in TABLE_KEYS + ["analysis"]],
        part_a=table_html("part_a"),
        q1=table_html("q1"),
        pin_memory=table_html("pin_memory"),
        epochs=table_html("epochs"),
        svm=table_html("svm"),
        q2=table_html("q2"),
        analysis=table_html("analysis"),
    log:
        f"{OUTDIR}/logs/report/render_report.log",
    conda:
        "../../envs/report.yaml"
    params:
        tables=REPORT_TABLES,
        config_studies=list(config["resnet_studies"]) + list(config["svm_studies"]),
        curve_panels=curve_panels(),
        configfiles=[config_path(f) for f in workflow.configfiles],
    script:
        "../scripts/render_report.py"
