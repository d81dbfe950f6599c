"""What every ResNet run trained with before input size, stem, precision, split, normalisation and momentum were
factors (the fidelity factors): the values a run recorded before them stands for. ablation.ops.migrate moves such a
run to its path with them; aggregation reads its missing params as them. Plain data: the Snakefile imports it while
it parses."""

NATIVE_SIZE = 28  # the images' own side

# SGD's momentum before it was a factor: the default of the config-wide `training.momentum` of then. A run recorded
# then names the value it used in its metrics' `training`; `legacy_momentum` reads it from there.
LEGACY_SGD_MOMENTUM = 0.9

# An SVM run recorded before its protocol and backend were factors: ours, a stratified sample scored on the split's
# test part, fitted by scikit-learn's own SVC.
LEGACY_SVM_FACTOR_VALUES = {"protocol": "stratified", "backend": "sklearn"}
SVM_BACKENDS = ("sklearn", "sklearnex")  # the SVC implementations (config $defs.svm_backend)
# The split an SVM protocol reads: ours the pooled split; the sources' the `seed001` split, for its test part, the
# official test set (they fit on the first images of the training file, which no split holds in order).
SVM_PROTOCOL_SPLITS = {"stratified": "pooled", "seed001": "seed001", "seed000": "seed001"}

LEGACY_FACTOR_VALUES = {
    "input_size": NATIVE_SIZE,
    "stem": "1ch",
    "precision": "fp32",
    "split": "pooled",
    "normalisation": "train_stats",
}


def momentum_read(optimizer: str, momentum: float) -> float:
    """The momentum a run of this optimizer trains with: SGD's own, and 0 for Adam, which reads none (so an Adam point
    is one run, at one path, whatever momentum its study names)."""
    return float(momentum) if optimizer == "sgd" else 0.0


def legacy_momentum(optimizer: str, training: dict | None = None) -> float:
    """The momentum of a run recorded before momentum was a factor, from the `training` section its metrics saved."""
    return momentum_read(optimizer, (training or {}).get("momentum", LEGACY_SGD_MOMENTUM))


def complete_factors(params: dict, training: dict | None = None) -> dict:
    """A ResNet run's factors, those it was recorded (or written by hand) without at the values it trained with: the
    legacy values, and the momentum its `training` section names."""
    full = {**LEGACY_FACTOR_VALUES, **params}
    momentum = full.get("momentum", legacy_momentum(full["optimizer"], training))
    return {**full, "momentum": momentum_read(full["optimizer"], momentum)}
