"""The choices the sources did not state and this workflow made, each with the config key that sets it: the report's
section "Assumptions and deviations". Plain data; the report reads each key's value from the config it ran with."""

# (what the sources left open, what we chose, the config key that sets it, or None where the code fixes it)
ASSUMPTIONS = [
    (
        "SGD's momentum (source 000's README names none; both sources' code used 0.9)",
        "0.9; a sensitivity study runs source 000's Question 1 SGD cells at 0 too, and claim 1 is reported at each",
        "factor_defaults.momentum",
    ),
    (
        "The fixed settings of source 000's epochs comparison",
        "batch 16, Adam, lr 1e-3, both datasets and models",
        "resnet_studies.seed000_epochs.grid",
    ),
    (
        "The fixed settings of source 000's pin_memory comparison",
        "batch 32, Adam, lr 1e-3, 10 epochs, on CUDA",
        "resnet_studies.seed000_pin_memory.grid",
    ),
    (
        "The fixed settings of source 000's CPU-against-GPU comparison",
        "batch 16, Adam, lr 1e-3, 10 epochs",
        "resnet_studies.seed000_cpu_vs_gpu.grid",
    ),
    ("How images are normalised", "with the training part's mean and std", "factor_defaults.normalisation"),
    ("How the data are split", "70/10/20 of the pooled 70,000, stratified, seeded", "factor_defaults.split"),
    ("Which model is tested", "the last epoch's (no early stopping, no best-of-validation)", None),
    ("DataLoader workers", "0 (the loading is timed with the step, as in a notebook)", "training.num_workers"),
    (
        "What a training time covers",
        "the training passes only; validation and test passes are timed apart",
        "resnet_studies.<study>.time_covers",
    ),
    ("Weight decay", "0 for both optimizers", "training.weight_decay"),
    ("The GPU", "whatever the host has (the sources': a T4); every run names it in its provenance", "gpu"),
    (
        "The dataset of source 001's Part A table (its README names none)",
        "both datasets, one table each",
        "resnet_studies.seed001_part_a.grid.dataset",
    ),
    ("Replicates", "one seed per point; more give means and intervals", "seeds"),
]


def config_value(config: dict, key: str | None) -> str:
    """The value at a dotted config key, as the report shows it; a key through `<study>` names several."""
    if key is None:
        return "not configurable"
    node = config
    for part in key.split("."):
        if part.startswith("<") or not isinstance(node, dict) or part not in node:
            return "per study"
        node = node[part]
    if isinstance(node, dict):
        return ", ".join(f"{k}: {v}" for k, v in node.items())
    return str(node)
