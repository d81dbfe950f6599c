"""How the report names and orders things: display names of factor values, column headers, the sources' row order.

Plain data, no imports: the Snakefile reads it while it parses (dataset wildcards), so it must stay light.
"""

DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
DATASETS = list(DATASET_NAMES)
MODEL_NAMES = {"resnet18": "ResNet-18", "resnet34": "ResNet-34", "resnet50": "ResNet-50"}
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}
KERNEL_NAMES = {"rbf": "RBF", "poly": "Poly"}
DEVICE_NAMES = {"cpu": "CPU", "cuda": "GPU"}
LOADER_NAMES = {
    "dataloader": "the sources' DataLoader loop",
    "resident": "the resident fast path (same batches and hyperparameters)",
}
# The display names of each factor's values; factors not listed show their values as they are.
VALUE_NAMES = {
    "dataset": DATASET_NAMES,
    "model": MODEL_NAMES,
    "optimizer": OPTIMIZER_NAMES,
    "kernel": KERNEL_NAMES,
    "device": DEVICE_NAMES,
}

# Column headers of the factors, as the sources name them; also the factors a table or figure may show.
FACTOR_HEADERS = {
    "dataset": "Dataset",
    "model": "Model",
    "batch_size": "Batch Size",
    "optimizer": "Optimizer",
    "lr": "Learning Rate",
    "epochs": "Epochs",
    "pin_memory": "pin_memory",
    "device": "Device",
    "loader": "Loader",
    "input_size": "Input Size",
    "stem": "Stem",
    "precision": "Precision",
    "split": "Split",
    "normalisation": "Normalisation",
    "momentum": "Momentum",
    "protocol": "Protocol",
    "backend": "SVC Implementation",
}
GRID_FACTORS = list(FACTOR_HEADERS)
# Row order as in the sources: SGD before Adam, the larger learning rate first, CPU before GPU, RBF before Poly.
ORDER = {
    "optimizer": ["sgd", "adam"],
    "device": ["cpu", "cuda"],
    "model": list(MODEL_NAMES),
    "dataset": ["mnist"],
    "kernel": ["rbf", "poly"],
}
DASH = "—"
# The GPU of source 000's timings, as its README states ("Hardware: CPU and T4 GPU").
SOURCES_GPU = "NVIDIA T4"
