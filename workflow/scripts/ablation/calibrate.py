"""`make calibrate`: training images/s on this host per (device, model, batch size), for `make plan` and SLURM runtimes.

Measures the faithful DataLoader step (the one the study's runs take) on synthetic images after a warm-up, with the
thread count a CPU run gets, and on CUDA where present. Writes resources/throughput.json.
"""

import argparse
import json
from pathlib import Path

import torch

from .provenance import _cpu_model, now
from .train import NormalizedImages, build_model, make_optimizer, train_one_epoch


def measure(model_name: str, batch_size: int, device: str, steps: int, threads: int) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n = batch_size * steps
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,))
    loader = torch.utils.data.DataLoader(NormalizedImages(images, labels, 0.13, 0.31), batch_size=batch_size)
    model = build_model(model_name).to(device)
    optimizer = make_optimizer("adam", model.parameters(), 1e-3, 0.9, 0.0)
    warmup = torch.utils.data.DataLoader(
        NormalizedImages(images[: 2 * batch_size], labels[: 2 * batch_size], 0.13, 0.31), batch_size=batch_size
    )
    train_one_epoch(model, warmup, optimizer, device, False)
    result = train_one_epoch(model, loader, optimizer, device, False)
    return n / result["epoch_time_s"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="resources/throughput.json")
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet34", "resnet50"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[16, 32])
    parser.add_argument(
        "--cpu-threads", type=int, default=1, help="threads of one CPU run (config training.cpu_threads)"
    )
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args(argv)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rates = {}
    for device in devices:
        for model_name in args.models:
            for batch_size in args.batch_sizes:
                steps = args.steps * (10 if device == "cuda" else 1)
                rate = measure(model_name, batch_size, device, steps, args.cpu_threads)
                rates[f"{device}/{model_name}/{batch_size}"] = round(rate, 1)
                print(f"{device:<5} {model_name:<9} batch {batch_size:>3}: {rate:8.1f} images/s", flush=True)
    record = {
        "images_per_s": rates,
        "cpu_model": _cpu_model(),
        "cpu_threads": args.cpu_threads,
        "gpu_name": torch.cuda.get_device_name(0) if "cuda" in devices else None,
        "torch": torch.__version__,
        "measured_at": now(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
