"""Which hyperparameters outside the grid each run reads.

A run's rule passes only these as `params`, and snakemake reruns a job whose params changed: so changing SGD's
weight decay reruns the ResNet runs and no SVM, and changing the polynomial degree reruns the poly SVMs only. (SGD's
momentum is a factor, in each run's path, not a hyperparameter of this kind.)
Plain data: the Snakefile imports it while it parses.
"""

READS = {
    # ResNet runs by optimizer: keys of config `training`.
    "resnet": {"sgd": ("weight_decay",), "adam": ("weight_decay",)},
    # SVM runs by kernel: keys of config `svm` (sklearn's SVC ignores degree and coef0 for rbf).
    "svm": {"rbf": ("C", "gamma"), "poly": ("C", "gamma", "degree", "coef0")},
}


def hyperparameters(kind: str, variant: str, section: dict) -> dict:
    """The values a `kind` run of this optimizer or kernel reads from its config section."""
    return {key: section[key] for key in READS[kind][variant]}
