rule train_resnet:
    input:
        unpack(split_inputs),
    output:
        metrics=f"{OUTDIR}/runs/resnet/{RESNET.wildcard_pattern}/metrics.json",
    log:
        f"{OUTDIR}/logs/resnet/{RESNET.wildcard_pattern}.log",
    benchmark:
        f"{OUTDIR}/benchmarks/resnet/{RESNET.wildcard_pattern}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: job_threads(RESNET, resnet_threads)
    resources:
        gpu=lambda wc: 1 if wc.device == "cuda" else 0,
        exclusive=timed(RESNET),
        slurm_extra=slurm_extra(RESNET, config["training"]["stop_signal_ahead_s"]),
        runtime=resnet_runtime_min,
        mem_mb=resnet_mem_mb,
    params:
        run=resnet_run,
        # Only the hyperparameters outside the grid that this run's optimizer reads: a change to `weight_decay`
        # reruns the ResNet runs. Threads, workers and the eval batch size rerun nothing.
        hyper=lambda wc: hyperparameters("resnet", wc.optimizer, config["training"]),
        checkpoint=resnet_checkpoint(),
    script:
        "../scripts/train_resnet.py"
