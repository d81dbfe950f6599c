rule train_resnet:
    input:
        unpack(split_inputs),
    output:
        metrics=paths.run_metrics(OUTDIR, "resnet", RESNET_POINT),
    log:
        paths.run_log(OUTDIR, "resnet", RESNET_POINT),
    benchmark:
        paths.run_benchmark(OUTDIR, "resnet", RESNET_POINT)
    conda:
        "../../envs/torch.yaml"
    threads: job_threads(RESNET_POINT, resnet_threads)
    resources:
        gpu=lambda wc: 1 if wc.device == "cuda" else 0,
        exclusive=timed(RESNET_POINT),
        slurm_extra=slurm_extra(RESNET_POINT, config["training"]["stop_signal_ahead_s"]),
        runtime=resnet_runtime_min,
        mem_mb=resnet_mem_mb,
    params:
        run=resnet_run,
        # Only the hyperparameters outside the grid that this run's optimizer reads: a change to `weight_decay`
        # reruns the ResNet runs. Threads, workers and the eval batch size rerun nothing.
        hyper=lambda wc: hyperparameters("resnet", wc.optimizer, config["training"]),
        # Outside the declared outputs, which snakemake deletes when a job fails: it must survive a kill.
        checkpoint=paths.checkpoint(OUTDIR, "resnet", RESNET_POINT),
    script:
        "../scripts/train_resnet.py"
