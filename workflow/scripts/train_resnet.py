"""Rule train_resnet: one ResNet grid point; see ablation.train for the protocol."""

from pathlib import Path

from ablation.train import run_resnet

sm = snakemake
with open(sm.log[0], "a") as log:  # append: a resumed run keeps the log of its first attempt
    run_resnet(
        run=sm.params.run,
        data_dir=Path(sm.input.manifest).parent,
        split_npz=sm.input.split_npz,
        split_json=sm.input.split_json,
        metrics_path=sm.output.metrics,
        checkpoint_path=sm.params.checkpoint,
        training={**sm.config["training"], **sm.params.hyper},
        threads=sm.threads,
        log=log,
    )
