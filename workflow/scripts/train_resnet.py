"""Rule train_resnet: one ResNet grid point; see ablation.train.resnet for the protocol."""

from pathlib import Path

from ablation.data.sources import require_verified
from ablation.ops.gpus import host_gpus
from ablation.ops.leases import acquire
from ablation.outputs import paths
from ablation.outputs.runlog import RunLog

sm = snakemake
# Every attempt stays in the log (snakemake empties it when the job starts again), and so does an exception. The
# attempts file stays with the checkpoint until the aggregation has counted the run.
with RunLog(sm.log[0], Path(sm.params.checkpoint).with_name(paths.ATTEMPTS), keep=True) as log:
    data_dir = Path(sm.input.manifest).parent
    require_verified(data_dir, sm.config["data"], sm.params.run["dataset"], log, sm.input.split_json)
    # A CUDA run sees exactly one GPU, leased before anything touches CUDA (the lease is not a param: changing the
    # slots or the GPU count reruns nothing). The lease lasts as long as this process.
    lease = None
    if sm.params.run["device"] == "cuda":
        config = sm.config
        lease = acquire(host_gpus(config), config["gpu_slots"], config["gpu_lease_dir"], log=log)
        print(
            f"GPU lease: CUDA_VISIBLE_DEVICES={lease.visible_devices}"
            + (
                f" (GPU {lease.gpu}, slot {lease.slot}, waited {lease.waited_s:.1f} s)"
                if lease.gpu is not None
                else " (set by SLURM)"
            ),
            file=log,
            flush=True,
        )
    from ablation.train.resnet import RunFiles, run_resnet  # after the lease: torch must not see the other GPUs

    # `retrain` asks for a new training of this run, no hyperparameter: the record's training leaves it out.
    training = {**sm.config["training"], **sm.params.hyper}
    retrain = training.pop("retrain")
    run_resnet(
        run=sm.params.run,
        files=RunFiles(data_dir, sm.input.split_npz, sm.input.split_json, sm.output.metrics, sm.params.checkpoint),
        training=training,
        threads=sm.threads,
        log=log,
        exclusive=bool(sm.resources.exclusive),
        gpu_lease=lease,
        retrain=retrain,
    )
