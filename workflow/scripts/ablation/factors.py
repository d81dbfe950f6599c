"""What every ResNet run trained with before input size, stem, precision, split and normalisation were factors
(issue 13): the values a run recorded before them stands for. ablation.migrate moves such a run to its path with
them; aggregation reads its missing params as them. Plain data: the Snakefile imports it while it parses."""

NATIVE_SIZE = 28  # the images' own side

LEGACY_FACTOR_VALUES = {
    "input_size": NATIVE_SIZE,
    "stem": "1ch",
    "precision": "fp32",
    "split": "pooled",
    "normalisation": "train_stats",
}
