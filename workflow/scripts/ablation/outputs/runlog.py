"""A run's log that keeps every attempt, and the exception that ended one.

snakemake empties a job's `log:` file when the job starts again, so a resumed run's log would hold its last attempt
only. Every line is therefore also appended to an attempts file outside snakemake's outputs (beside the run's
checkpoint), and a new attempt starts its log with the earlier attempts' lines. An exception is written into the log
before it ends the attempt. Once the run has succeeded its log holds every attempt, and the attempts file goes, or
with `keep`, stays until the run's resume state is discarded (report.aggregate.discard_resume_state): a job whose
metrics snakemake deletes as incomplete (a kill just after it succeeded) runs again with its log whole.
"""

import contextlib
import os
import time
import traceback
from pathlib import Path

from ablation.outputs.diskspace import DiskFull, reporting_full_disk


class RunLog:
    """`with RunLog(log_path, attempts_path) as log:` a file-like log (write, flush) for one attempt."""

    def __init__(self, log_path, attempts_path, keep: bool = False):
        self.log_path, self.attempts_path, self.keep = Path(log_path), Path(attempts_path), keep

    def __enter__(self):
        self.attempts_path.parent.mkdir(parents=True, exist_ok=True)
        earlier = self.attempts_path.read_text() if self.attempts_path.exists() else ""
        self.log = open(self.log_path, "w")
        self.log.write(earlier)
        self.attempts = open(self.attempts_path, "a")
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        header = "earlier attempts above; " if earlier else ""
        self.write(f"--- attempt started {started} (pid {os.getpid()}; {header}log kept in {self.attempts_path}) ---\n")
        return self

    def write(self, text: str) -> int:
        # Both at once, flushed: a SIGKILL loses nothing already written.
        for stream in (self.log, self.attempts):
            with reporting_full_disk(stream.name, len(text)):
                stream.write(text)
                stream.flush()
        return len(text)

    def flush(self) -> None:
        pass  # every write is flushed

    def __exit__(self, exc_type, exc, tb) -> None:
        # On a full disk the log loses its ending, not the exception that ended the attempt: python prints that still.
        with contextlib.suppress(DiskFull):
            if exc_type is not None and not issubclass(exc_type, SystemExit | KeyboardInterrupt):
                self.write("the attempt failed:\n" + "".join(traceback.format_exception(exc_type, exc, tb)))
            elif exc_type is not None:
                self.write(f"the attempt ended: {exc_type.__name__} {exc or ''}\n")
        for stream in (self.log, self.attempts):
            # Every write was flushed: only one a full disk refused is left in the buffer, and it is lost with it.
            with contextlib.suppress(OSError):
                stream.close()
        if exc_type is None and not self.keep:
            self.attempts_path.unlink(missing_ok=True)
