"""Runs recorded before issue 13's factors move to their new paths; the workflow-level case is in test_workflow."""

from ablation.migrate import LEGACY_SUFFIX, migrate, report


def test_a_move_of_the_earlier_layout_never_overwrites_and_names_what_it_left(tmp_path):
    # A run's directory in the earlier layout: its ten factors, the seed last.
    point = tmp_path / (
        "runs/resnet/dataset~mnist/model~resnet18/batch_size~16/optimizer~adam/lr~0.001/epochs~1/pin_memory~False/"
        "device~cpu/loader~dataloader/seed~0"
    )
    (point / "metrics.json").parent.mkdir(parents=True)
    (point / "metrics.json").write_text("earlier")
    taken = point.joinpath(*LEGACY_SUFFIX, "metrics.json")
    taken.parent.mkdir(parents=True)
    taken.write_text("newer")
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits/mnist.npz").write_text("split")
    moved, kept = migrate(tmp_path)
    assert moved == 1 and kept == [point / "metrics.json"]
    assert taken.read_text() == "newer" and (point / "metrics.json").read_text() == "earlier"
    assert (tmp_path / "splits/pooled/mnist.npz").read_text() == "split"
    text = report(tmp_path, moved, kept)
    assert "Moved 1 file(s)" in text and "Left 1 file(s) of the earlier layout where they are" in text
    assert migrate(tmp_path) == (0, [point / "metrics.json"])
