"""What a network sees of the 28x28 grey images: one function for every loop, so that they all see the same tensors.

The sources' transforms, in order: Resize (bilinear, on the 8-bit image), ToTensor (scaled to [0, 1]), Normalize, and
for source 000's stock torchvision stem Grayscale(num_output_channels=3) (the grey channel repeated). Here the resize
runs on uint8 tensors with torchvision's own `resize`, which rounds back to 8 bits as PIL does; at 28x28 nothing is
resized. On a CPU the DataLoader loop (per sample) and the resident loop (per batch, on the device) call the same
kernel and get identical tensors; on CUDA the kernel may round a resized pixel the other way (at most 1/255 apart
before normalisation).
"""

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as tvf

from ablation.study.factors import NATIVE_SIZE

STEMS = {"1ch": 1, "3ch": 3}  # input channels of the stem


def model_input(images: torch.Tensor, mean: float, std: float, input_size: int = NATIVE_SIZE, stem: str = "1ch"):
    """(N, 28, 28) uint8 images -> (N, channels, input_size, input_size) float, normalised, as the network sees them."""
    x = images.unsqueeze(1)
    if input_size != NATIVE_SIZE:
        x = tvf.resize(x, [input_size, input_size], interpolation=InterpolationMode.BILINEAR, antialias=True)
    x = x.float().div(255.0).sub(mean).div(std)
    return x.expand(-1, STEMS[stem], -1, -1) if STEMS[stem] > 1 else x
