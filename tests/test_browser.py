"""The report in a real browser: Debian's chromium, driven by playwright. A tiny study on fixture data goes through the
workflow and `snakemake --report`; the interactive runs table filters and sorts with the right rows, every figure
of report.html loads as an image of non-zero size, and text from the config shows as written without running."""

import pandas as pd
import pytest

from ablation.report.aggregate import read_runs
from ablation.report.layout import FIGURES, TABLES
from ablation.report.markup import markdown_text
from ablation.report.runs_table import runs_table_html
from conftest import CHROMIUM, FEW_IMAGES, MARKUP_INJECTION, REPO, run_snakemake, tiny_grid, write_config

# The tiny study's outdir, a directory name with markup in it: the injection without its script, whose `</` no
# directory name can hold.
OUTDIR_NAME = "XSS<img src=x onerror=alert(1)> a|b *c*"
pytest.importorskip("playwright.sync_api", reason="playwright is in requirements.lock: run `make venv`")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Debian's chromium (`apt-get install chromium` as root; .ci/run does)"
    ),
]


@pytest.fixture(scope="module")
def report(fixture_data, tmp_path_factory):
    """The tiny study's outputs and its report.html; its description and its outdir hold markup."""
    work = tmp_path_factory.mktemp("browser")
    grid = tiny_grid(dataset=["mnist", "fashion_mnist"], optimizer=["sgd", "adam"], lr=[0.01])
    mapping = {"part_a": [], "q1": ["grid"], "pin_memory": [], "epochs": [], "svm": [], "q2": []}
    config = write_config(
        work / "config.yaml",
        fixture_data,
        subset=FEW_IMAGES,
        outdir=str(work / OUTDIR_NAME),
        resnet_studies={"grid": {"description": MARKUP_INJECTION, "grid": grid}},
        report={"tables": mapping},
    )
    args = ["-s", str(REPO / "Snakefile"), "-d", str(work), "--configfile", str(config)]
    run_snakemake("--cores", "2", *args)
    run_snakemake(*args, "--report", str(work / "report.html"))
    return {"results": work / OUTDIR_NAME, "html": work / "report.html"}


def watched_page(browser):
    """A new page, and the messages of the dialogs it opens (each dismissed)."""
    page, dialogs = browser.new_page(), []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return page, dialogs


def assert_no_markup_ran(page, dialogs: list[str]) -> None:
    """Neither the injection's script nor its image ran, in the page or any frame of it."""
    page.wait_for_load_state("load")
    for frame in page.frames:
        assert frame.evaluate("typeof window.__pwned") == "undefined", frame.url
        assert frame.locator('img[src="x"]').count() == 0, frame.url
    assert dialogs == []


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
        arg=[
            page.locator("table.dataTable thead th").all_inner_texts().index(header) + 1,
            1 if direction == "ascending" else -1,
        ],
    )
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


def assert_outdir_as_written(text: str) -> None:
    """Wherever this text of a page shows the outdir, it shows it whole: no emphasis, tag or cell made of it."""
    assert text.count("XSS") == text.count(OUTDIR_NAME), text


def test_text_from_the_config_shows_as_written_in_report_html_and_runs_nothing(report, browser):
    """The description in README.md, escaped; the outdir in report.html (its description and README.md's caption,
    reStructuredText that snakemake renders), as written; no script of either runs in report.html or runs.html."""
    readme = (report["results"] / "report/README.md").read_text()
    assert f"(ResNet, 4 runs): {markdown_text(MARKUP_INJECTION)}\n" in readme and "<img" not in readme
    page, dialogs = watched_page(browser)
    page.goto(report["html"].as_uri())
    assert_outdir_as_written(page.inner_text("body"))
    page.get_by_text("Data", exact=True).click()
    page.locator("tr", has_text="README.md").locator('a[iconname="information-circle"]').click()
    caption = page.get_by_text("read it in").inner_text()
    assert f"{report['results']}/report/" in caption
    assert_outdir_as_written(caption)
    assert_no_markup_ran(page, dialogs)
    page.close()
    page, dialogs = watched_page(browser)
    page.goto((report["results"] / "report/runs.html").as_uri())
    page.wait_for_selector("table.dataTable tbody tr")
    assert_no_markup_ran(page, dialogs)
    page.close()


def test_runs_html_shows_markup_in_a_cell_as_written_and_runs_nothing(browser, tmp_path):
    """A run's note and device name (which the runs' provenance fills from the host) in the interactive table: text,
    found by the search box, and nothing of them runs."""
    runs = pd.DataFrame(
        [
            {
                "kind": "resnet",
                "status": "not_run",
                "note": MARKUP_INJECTION,
                "test_accuracy": None,
                "val_accuracy": None,
                "device_name": MARKUP_INJECTION,
                "run_id": "r0",
            }
        ]
    )
    path = tmp_path / "runs.html"
    path.write_text(runs_table_html(runs, MARKUP_INJECTION))
    page, dialogs = watched_page(browser)
    page.goto(path.as_uri())
    page.wait_for_selector("table.dataTable tbody tr")
    assert column(page, "note") == [MARKUP_INJECTION] and column(page, "device_name") == [MARKUP_INJECTION]
    assert page.title() == MARKUP_INJECTION and MARKUP_INJECTION in page.locator("table.dataTable caption").inner_text()
    page.locator("div.dt-search input").fill("a|b *c*")
    page.wait_for_function("document.querySelectorAll('table.dataTable tbody tr td').length > 1")
    assert column(page, "run_id") == ["r0"]
    assert_no_markup_ran(page, dialogs)
    page.close()


def test_readme_rendered_as_markdown_shows_the_description_as_written_and_runs_nothing(report, browser, tmp_path):
    """README.md as a CommonMark renderer with tables (GitHub's flavour) turns it into HTML, raw HTML passed through
    as GitHub's renderer would before it sanitises: the description shows as written and nothing of it runs."""
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is in requirements.lock: run `make venv`")
    renderer = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    page_path = tmp_path / "README.html"
    page_path.write_text(
        '<!doctype html><meta charset="utf-8"><body>'
        + renderer.render((report["results"] / "report/README.md").read_text())
    )
    page, dialogs = watched_page(browser)
    page.goto(page_path.as_uri())
    assert_no_markup_ran(page, dialogs)
    assert f"grid (ResNet, 4 runs): {MARKUP_INJECTION}" in page.locator("li", has_text="(ResNet, 4 runs)").inner_text()
    page.close()
