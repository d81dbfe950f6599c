"""The report in a real browser: Debian's chromium, driven by playwright. A tiny study on fixture data goes through the
workflow and `snakemake --report`; the interactive runs table filters and sorts with the right rows, and every figure
of report.html loads as an image of non-zero size."""

import shutil

import pytest

from ablation.aggregate import read_runs
from ablation.layout import FIGURES, TABLES
from conftest import REPO, run_snakemake, write_config

CHROMIUM = shutil.which("chromium")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.lock: run `make venv`")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (`apt-get install chromium` as root; .ci/run does)"
    ),
]


@pytest.fixture(scope="module")
def report(fixture_data, tmp_path_factory):
    """The tiny study's outputs and its report.html."""
    work = tmp_path_factory.mktemp("browser")
    grid = {"dataset": ["mnist", "fashion_mnist"], "model": ["resnet18"], "batch_size": [64],
            "optimizer": ["sgd", "adam"], "lr": [0.01], "epochs": [1]}  # fmt: skip
    mapping = {"part_a": [], "q1": ["grid"], "pin_memory": [], "epochs": [], "svm": [], "q2": []}
    config = write_config(work / "config.yaml", fixture_data, resnet_studies={"grid": {"grid": grid}},
                          report={"tables": mapping})  # fmt: skip
    args = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", str(config)]
    run_snakemake("--cores", "2", *args)
    run_snakemake(*args, "--report", str(work / "report.html"))
    return {"results": work / "results", "html": work / "report.html"}


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def column(page, header: str) -> list[str]:
    """The visible cells of a column of the DataTable (in a page or a frame), in display order."""
    headers = page.locator("table.dataTable thead th").all_inner_texts()
    index = headers.index(header) + 1
    return page.locator(f"table.dataTable tbody tr td:nth-child({index})").all_inner_texts()


def sort_by(page, header: str, direction: str):
    """Click a header's sort control and wait until the column shows in that order: DataTables 2 sorts in a timeout
    after the click (to show its processing indicator), so rows read at once may still be in the old order."""
    th = page.locator("table.dataTable thead th", has_text=header)
    th.locator("span.dt-column-order").click()  # itables' DataTables sorts on its arrows, not on the title
    page.wait_for_function(
        """([index, sign]) => {
            const cells = [...document.querySelectorAll(`table.dataTable tbody tr td:nth-child(${index})`)];
            const values = cells.map(cell => parseFloat(cell.innerText));
            return values.every((v, i) => i === 0 || sign * (v - values[i - 1]) >= 0);
        }""",
        arg=[page.locator("table.dataTable thead th").all_inner_texts().index(header) + 1,
             1 if direction == "ascending" else -1],
    )  # fmt: skip
    assert th.get_attribute("aria-sort") == direction


def test_report_html_shows_the_runs_table_which_filters_by_dataset_and_sorts_by_accuracy(report, browser):
    runs = read_runs(report["results"] / "runs.csv")
    window = browser.new_page()
    window.goto(report["html"].as_uri())
    window.get_by_text("Data", exact=True).click()
    window.locator("tr", has_text="runs (interactive table)").locator('a[iconname="eye"]').click()
    window.wait_for_function("window.frames.length > 0")
    (page,) = [frame for frame in window.frames if "filename=runs.html" in frame.url]  # the item, embedded
    page.wait_for_selector("table.dataTable tbody tr")
    assert sorted(column(page, "run_id")) == sorted(runs["run_id"])

    page.locator("div.dt-search input").fill("fashion_mnist")
    page.wait_for_function("document.querySelectorAll('table.dataTable tbody tr').length === 2")
    assert sorted(column(page, "run_id")) == sorted(runs.loc[runs["dataset"] == "fashion_mnist", "run_id"])
    page.locator("div.dt-search input").fill("")
    page.wait_for_function(f"document.querySelectorAll('table.dataTable tbody tr').length === {len(runs)}")

    accuracy = dict(zip(runs["run_id"], (100 * runs["test_accuracy"]).round(2)))
    sort_by(page, "test_accuracy_pct", "ascending")
    shown = [accuracy[run_id] for run_id in column(page, "run_id")]
    assert shown == sorted(accuracy.values()) and [float(v) for v in column(page, "test_accuracy_pct")] == shown
    sort_by(page, "test_accuracy_pct", "descending")
    assert [accuracy[run_id] for run_id in column(page, "run_id")] == sorted(accuracy.values(), reverse=True)
    window.close()


def test_every_figure_of_report_html_loads_with_a_non_zero_size(report, browser):
    categories = {TABLES[f.table].category for f in FIGURES.values()}
    loaded = []
    for category in sorted(categories):
        page = browser.new_page()
        page.goto(report["html"].as_uri())
        page.get_by_text(category, exact=True).click()
        page.get_by_text("Figures", exact=True).click()
        for i in range(page.locator('a[iconname="eye"]').count()):
            page.locator('a[iconname="eye"]').nth(i).click()
            image = page.locator('img[src^="data:image/png"]')
            image.wait_for()
            # Its size once it has loaded or failed (an image still decoding reads 0 x 0).
            width, height = image.evaluate("""e => new Promise(done => {
                const size = () => done([e.naturalWidth, e.naturalHeight]);
                if (e.complete) size(); else { e.addEventListener('load', size); e.addEventListener('error', size); }
            })""")
            assert width > 0 and height > 0, (category, i)
            loaded.append(image.get_attribute("src").split(";")[2])
            page.go_back()
            page.get_by_text("Figures", exact=True).click()
        page.close()
    # One file per figure, the curves once per dataset and model.
    expected = {f"filename={name}.png" for name in FIGURES if not FIGURES[name].wildcards}
    expected |= {f"filename=curves_{d}_resnet18.png" for d in ("mnist", "fashion_mnist")}
    assert set(loaded) == expected
