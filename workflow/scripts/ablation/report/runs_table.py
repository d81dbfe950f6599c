"""runs.csv as an interactive table (sortable, searchable) that works offline: DataTables through itables, with its
JavaScript embedded, for report.html and for opening on its own."""

from pathlib import Path

import pandas as pd
from markupsafe import escape

from ablation.report.aggregate import FACTORS, read_runs

# The columns a reader compares runs by, in this order (the factors as their runs' paths order them, the replicate
# seed after them); the rest stay in runs.csv.
COLUMNS = [
    *["kind", "status", "studies", *(f for f in FACTORS if f != "seed"), "seed"],
    *["test_accuracy", "val_accuracy", "train_time_s", "time_taken_s", "fit_time_s", "macs", "params_count"],
    *["exclusive", "device_name", "note", "run_id"],
]


def runs_table_html(runs: pd.DataFrame, title: str) -> str:
    """A standalone HTML page: the runs (one row each, every row on one page of up to 1,000) with a search box and
    sortable columns, DataTables embedded (no network needed). Cells and `title` show as text, whatever they hold."""
    import itables
    from itables import javascript, options

    shown = runs[[c for c in COLUMNS if c in runs]].copy()
    for column in ("test_accuracy", "val_accuracy"):
        shown[column] = (100 * shown[column]).round(2)
    # itables escapes the cells (allow_html False, said here so that no global option turns it off), not the caption.
    title = escape(title)
    table = itables.to_html_datatable(
        shown.rename(columns={"test_accuracy": "test_accuracy_pct", "val_accuracy": "val_accuracy_pct"}),
        caption=title,
        allow_html=False,
        connected=False,
        maxBytes=0,
        pageLength=1000,
        lengthMenu=[25, 100, 1000],
        showIndex=False,
        display_logo_when_loading=False,
        # The search box first and the row count, always (itables hides its default layout's controls when the
        # rows fit on one page).
        layout={"topStart": "search", "topEnd": "pageLength", "bottomStart": "info", "bottomEnd": "paging"},
    )
    init = javascript.generate_init_offline_itables_html(options.dt_bundle)
    head = f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n<body>\n'
    return f"{head}{init}\n{table}\n</body></html>\n"


def write_runs_table(runs_csv, out, title: str = "Every run: its factors, metrics and conditions") -> None:
    Path(out).write_text(runs_table_html(read_runs(runs_csv), title))
