"""What each source's code ran, where it differs from its README, and which config reproduces it: the report's section
"What each source's code did". Read from the sources' public code and committed results (source 000:
sps1001/MLOps-Sahilpreet_Singh-B23CS1061, `dlops_Assignment.ipynb`, branch Assignment-1; source 001:
gjyotin305/MLOps-B22AI063, `run_exp.py` and `results/*.jsonl`, branch assignment-1). Plain data."""

# (seed, what its code did, how this workflow has it)
DIFFERENCES = [
    (
        "both",
        "Trained at 224x224 (Resize(224) of the 28x28 images), not at 28x28.",
        "`input_size: 224` in the `*_as_run` studies; ours stay at 28x28, the size a CPU can run.",
    ),
    (
        "both",
        "Mixed precision in training: fp16 autocast with a GradScaler.",
        "`precision: amp` in the `*_as_run` studies (CUDA only).",
    ),
    (
        "both",
        "Normalised with Normalize((0.5,), (0.5,)), not the data's mean and std.",
        "`normalisation: half` in the `*_as_run` studies.",
    ),
    (
        "both",
        "Split the 60,000 training images 70/10/20 with an unseeded random_split.",
        "`split: seed000` / `seed001`, seeded and checksummed here.",
    ),
    (
        "source 000",
        "torchvision's stock 3-channel stem, fed Grayscale(num_output_channels=3).",
        "`stem: 3ch` in `seed000_*_as_run`.",
    ),
    (
        "source 000",
        "Tested on the 20% part of its split of the training images (12,000), not the official test set.",
        "`split: seed000`.",
    ),
    (
        "source 000",
        "Question 2 (CPU against GPU): fp32 on both devices, SGD without momentum, 5 epochs, batch 16; "
        "'FLOPs' are thop's MACs of a 1x3x224x224 input (1.8235 G for ResNet-18).",
        "`seed000_q2_as_run` (CPU and GPU, fp32, `momentum: 0.0`, the 3ch stem at 224).",
    ),
    (
        "source 000",
        "The pin_memory comparison's time covers training, validation and the test pass.",
        "`time_covers: training_and_evaluation` in `seed000_pin_memory_as_run` (every run records its evaluation "
        "time apart).",
    ),
    (
        "source 000",
        "SVM: StandardScaler + SVC fitted on all 60,000 training images and scored on the same images: "
        "its published SVM accuracies are training accuracies.",
        "`seed000_svm_as_run` (`protocol: seed000`): fitted the same way, scored on its training images as published "
        "and on the official test set, side by side in the SVM table.",
    ),
    ("source 001", "A 1-channel 7x7 stem and cudnn.benchmark.", "`stem: 1ch` (ours too)."),
    ("source 001", "Tested on the official 10,000-image test set.", "`split: seed001`."),
    (
        "source 001",
        "Every committed result row ran on CUDA, its Question 2 rows included (a later README labels "
        "some of them CPU).",
        "`seed001_q2_as_run` is CUDA only.",
    ),
    (
        "source 001",
        "Its FLOPs column is thop on a 1x1x28x28 input while it trained at 224x224: 0.0332 G against "
        "1.7449 G MACs at 224 for ResNet-18.",
        "MACs and FLOPs here are counted at each run's input size and stem.",
    ),
    (
        "source 001",
        "SVM: the first 10,000 training images in file order, raw 0-255 pixels, the official test set.",
        "`seed001_svm_as_run` (`protocol: seed001`); ours use a seeded stratified sample scaled to [0, 1].",
    ),
]
