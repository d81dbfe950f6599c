"""Rule aggregate: every run's metrics.json, and the runs left out of the plan, into runs.csv and history.csv."""

import sys

from ablation.report.aggregate import UnusableMetrics, collect_runs, discard_resume_state, set_aside, write_runs

sm = snakemake
with open(sm.log[0], "w") as log:
    # Inputs come in plan order (Paramspace.instance_patterns), so each path pairs with its plan row (and is checked).
    try:
        runs, history = collect_runs(
            resnet=zip(sm.params.resnet_plan, sm.input.resnet, strict=True),
            svm=zip(sm.params.svm_plan, sm.input.svm, strict=True),
            left_out=sm.params.resnet_left_out,
        )
    except UnusableMetrics as unusable:
        # One message for all of them, no traceback; the files are kept, and their runs are trained anew next time.
        message = set_aside(unusable.files)
        print(message, file=log)
        sys.exit(message)
    write_runs(runs, history, sm.output.runs, sm.output.history)
    # The ResNet runs are counted: their checkpoints and attempts files are no longer needed to resume them.
    discarded = discard_resume_state(sm.params.resnet_checkpoints)
    print(f"removed {discarded} checkpoint and attempts file(s) of runs now aggregated", file=log)
    counts = runs.groupby(["kind", "status"]).size()
    print(f"{len(runs)} runs, {len(history)} epochs:\n{counts.to_string()}", file=log)
