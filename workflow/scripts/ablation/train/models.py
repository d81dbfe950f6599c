"""The study's networks and optimizers: torchvision's ResNets from scratch, their MACs, SGD and Adam."""

import torch
import torchvision
from torch import nn

from ablation.study.factors import NATIVE_SIZE
from ablation.train.inputs import STEMS

MODELS = {
    "resnet18": torchvision.models.resnet18,
    "resnet34": torchvision.models.resnet34,
    "resnet50": torchvision.models.resnet50,
}


def build_model(name: str, stem: str = "1ch") -> nn.Module:
    """torchvision's ResNet from scratch, 10 classes. `1ch`: a 1-channel 7x7 stem for the grey image (source 001's
    model); `3ch`: torchvision's stock 3-channel stem, fed the grey channel three times (source 000's)."""
    model = MODELS[name](weights=None, num_classes=10)
    if stem == "1ch":
        model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


def count_macs(model_name: str, input_size: int = NATIVE_SIZE, stem: str = "1ch") -> tuple[int, int]:
    """(MACs, parameters) of one forward pass at the run's real input, by thop (which counts multiply-accumulates,
    not FLOPs)."""
    from thop import profile

    model = build_model(model_name, stem).eval()
    dummy = torch.zeros(1, STEMS[stem], input_size, input_size)
    macs, _ = profile(model, inputs=(dummy,), verbose=False)
    return int(macs), sum(p.numel() for p in model.parameters())


def make_optimizer(name: str, params, lr: float, momentum: float, weight_decay: float, capturable: bool = False):
    """The study's optimizers. `capturable` (CUDA graphs) changes where Adam keeps its step count, not the update."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, capturable=capturable)


def build_model_and_optimizer(run: dict, training: dict):
    """The run's model on its device and its optimizer, as the run's loader wants them. The resident path on CUDA
    replays a captured CUDA graph: it runs channels_last with cuDNN autotuning, and its optimizer keeps its step count
    on the device (`capturable`). Draws the initial weights from torch's global RNG: seed it first."""
    graphed = run["loader"] == "resident" and run["device"] == "cuda"
    model = build_model(run["model"], run["stem"]).to(run["device"])
    if graphed:
        torch.backends.cudnn.benchmark = True
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(
        run["optimizer"], model.parameters(), run["lr"], run["momentum"], training["weight_decay"], graphed
    )
    return model, optimizer
