rule train_svm:
    input:
        unpack(split_inputs),
    output:
        metrics=f"{OUTDIR}/runs/svm/{SVM.wildcard_pattern}/metrics.json",
    log:
        f"{OUTDIR}/logs/svm/{SVM.wildcard_pattern}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/svm/{SVM.wildcard_pattern}.tsv"
    conda:
        "../../envs/svm.yaml"
    # libsvm fits on one core (a timed fit takes them all locally, so that nothing runs beside it).
    # libsvm fits on one thread; oneDAL (backend sklearnex) on as many as it is given.
    threads: job_threads(SVM, lambda wc: 1 if wc.backend == "sklearn" else workflow.cores)
    resources:
        exclusive=timed(SVM),
        slurm_extra=slurm_extra(SVM),
        runtime=svm_runtime_min,
        mem_mb=lambda wc, attempt: 4000 * attempt,
    params:
        run=svm_run,
        # Only the hyperparameters the kernel reads: a change to `degree` reruns the poly runs, not the rbf ones.
        hyper=lambda wc: hyperparameters("svm", wc.kernel, config["svm"]),
    script:
        "../scripts/train_svm.py"
