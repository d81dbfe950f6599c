# From the runs' JSONs to the study's report: runs.csv, the figures, the sources' tables (markdown and HTML), the
# analysis of source 000's claims and README.md; `snakemake --report` collects them into report.html. Which studies
# feed which table and figure: config `report.tables`. The report's file set and helpers: common.smk.


rule aggregate:
    input:
        resnet=resnet_metrics(),
        svm=svm_metrics(),
    output:
        runs=report(
            AGGREGATED["runs"],
            caption="../../report/runs.rst",
            category="Data",
            labels={"item": "runs.csv", "studies": "all"},
        ),
        history=AGGREGATED["history"],
    log:
        paths.report_log(OUTDIR, "aggregate"),
    # Seconds of pandas: on a cluster it runs where snakemake runs instead of waiting in the queue.
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        code_sha256=REPORT_CODE_SHA256,
        # Plan rows in the order of the inputs: each metrics.json gets its studies, and is checked against its run.
        resnet_plan=RESNET_RUNS.to_dict("records"),
        svm_plan=SVM_RUNS.to_dict("records"),
        # Runs left out of the plan have no JSON; they still get a row ("not run: no GPU").
        resnet_left_out=RESNET_LEFT_OUT.to_dict("records"),
        # Removed once their runs are aggregated (kept until then: a job run again resumes from them).
        resnet_checkpoints=[
            paths.checkpoint(OUTDIR, "resnet", point) for point in RESNET_POINTS
        ],
    script:
        "../scripts/aggregate.py"


rule runs_table:
    input:
        runs=AGGREGATED["runs"],
    output:
        html=report(
            f"{REPORT}/runs.html",
            caption="../../report/runs_table.rst",
            category="Data",
            labels={"item": "runs (interactive table)", "studies": "all"},
        ),
    log:
        paths.report_log(OUTDIR, "runs_table"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        code_sha256=REPORT_CODE_SHA256,
    script:
        "../scripts/runs_table.py"


# One rule per figure of report.layout.FIGURES (plot_curves, plot_accuracy_heatmap, ...); a figure with wildcards
# (the curves: dataset, model) is one file per value. Seconds of matplotlib each: run where snakemake runs.
for name, figure in FIGURES.items():

    rule:
        name:
            f"plot_{name}"
        input:
            **{table: AGGREGATED[table] for table in figure.inputs},
        output:
            png=figure_png(name),
            svg=f"{REPORT}/plots/{figure_stem(name)}.svg",
        log:
            paths.report_log(OUTDIR, f"plot_{figure_stem(name)}"),
        wildcard_constraints:
            model=r"resnet\d+",
        localrule: True
        conda:
            "../../envs/report.yaml"
        params:
            code_sha256=REPORT_CODE_SHA256,
            figure=name,
            studies=REPORT_TABLES[figure.table],
        script:
            "../scripts/plot.py"


rule render_report:
    input:
        **AGGREGATED,
        # The figures README.md embeds; listed so that it is written once they exist.
        plots=[png for name in FIGURES for png in figure_pngs(name)],
        templates=REPORT_TEMPLATES,
        # The sources' published numbers, tested beside ours.
        seeds=SOURCE_FILES,
    output:
        readme=report(
            f"{REPORT}/README.md",
            caption="../../report/README.rst",
            category="Data",
            labels={"item": "README.md (the whole report)", "studies": "all"},
        ),
        tables_md=[f"{REPORT}/tables/{table}.md" for table in TABLES],
        tables_html=[table_html(table) for table in TABLES],
    log:
        paths.report_log(OUTDIR, "render_report"),
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        code_sha256=REPORT_CODE_SHA256,
        tables=REPORT_TABLES,
        config_studies=list(config["resnet_studies"]) + list(config["svm_studies"]),
        # Each figure's files with their wildcard values (README.md titles the curves by them).
        figures={name: figure_files(name) for name in FIGURES},
        configfiles=[config_path(f) for f in workflow.configfiles],
        # The config text its outputs' captions show, escaped (common.smk).
        captions=CAPTION_TEXT,
    script:
        "../scripts/render_report.py"
