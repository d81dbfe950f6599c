"""One ResNet run: the loop, its two loaders, inputs, precision, checkpoints and interruption."""
