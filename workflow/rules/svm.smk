rule train_svm:
    input:
        unpack(split_inputs),
    output:
        metrics=paths.run_metrics(OUTDIR, "svm", SVM_POINT),
    log:
        paths.run_log(OUTDIR, "svm", SVM_POINT),
    benchmark:
        paths.run_benchmark(OUTDIR, "svm", SVM_POINT)
    conda:
        "../../envs/svm.yaml"
    # libsvm fits on one core (a timed fit takes them all locally, so that nothing runs beside it).
    # libsvm fits on one thread; oneDAL (backend sklearnex) on as many as it is given.
    threads: job_threads(SVM_POINT, lambda wc: 1 if wc.backend == "sklearn" else workflow.cores)
    resources:
        exclusive=timed(SVM_POINT),
        slurm_extra=slurm_extra(SVM_POINT),
        runtime=svm_runtime_min,
        mem_mb=lambda wc, attempt: 4000 * attempt,
    params:
        run=svm_run,
        # Only the hyperparameters the kernel reads: a change to `degree` reruns the poly runs, not the rbf ones.
        hyper=lambda wc: hyperparameters("svm", wc.kernel, config["svm"]),
    script:
        "../scripts/train_svm.py"
