"""Rule train_svm: one SVM run; see ablation.svm for the protocol."""

from pathlib import Path

from ablation.data.sources import require_verified
from ablation.outputs.runlog import RunLog
from ablation.svm import run_svm

sm = snakemake
# Every attempt stays in the log (snakemake empties it when the job starts again), and so does an exception.
with RunLog(sm.log[0], Path(sm.log[0]).with_suffix(".attempts")) as log:
    data_dir = Path(sm.input.manifest).parent
    require_verified(data_dir, sm.config["data"], sm.params.run["dataset"], log, sm.input.split_json)
    run_svm(
        run=sm.params.run,
        hyperparameters=sm.params.hyper,
        data_dir=data_dir,
        split_npz=sm.input.split_npz,
        split_json=sm.input.split_json,
        metrics_path=sm.output.metrics,
        log=log,
        exclusive=bool(sm.resources.exclusive),
        threads=sm.threads,
    )
