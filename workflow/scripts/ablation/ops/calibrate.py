"""`make calibrate`: training images/s on this host per (device, model, batch size), for `make plan` and SLURM runtimes.

Measures the faithful DataLoader step (the one the study's runs take) on synthetic images after a warm-up, with the
thread count a CPU run gets, and on CUDA where present. Writes resources/throughput.json.
"""

import argparse
import json
from pathlib import Path

import torch

from ablation.outputs.provenance import cpu_model, now
from ablation.train.models import build_model_and_optimizer
from ablation.train.resnet import complete_run, make_trainer


def measure(kind, model_name, batch_size, steps, device, images, labels) -> tuple[float, float]:
    """Training images/s of `kind` (`dataloader` or `resident`) over `steps` batches after two warm-up batches, and the
    resident path's capture time. `images` (uint8) and `labels` must hold at least (steps + 2) x batch_size items.

    The step measured is a run's (run_resnet's model, optimizer and training loop for that loader), with Adam and no
    pinned memory or DataLoader workers."""
    n = (steps + 2) * batch_size
    run = complete_run(
        {
            "model": model_name,
            "batch_size": batch_size,
            "optimizer": "adam",
            "lr": 1e-3,
            "pin_memory": False,
            "device": device,
            "loader": kind,
        }
    )
    model, optimizer = build_model_and_optimizer(run, {"weight_decay": 0.0})
    trainer = make_trainer(run, model, optimizer, (images[:n], labels[:n]), 0.13, 0.31)
    trainer.epoch(torch.arange(2 * batch_size))  # warm-up
    result = trainer.epoch(torch.arange(2 * batch_size, n))
    return steps * batch_size / result["epoch_time_s"], trainer.setup_time_s or 0.0


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
    torch.set_num_threads(args.cpu_threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rates = {}
    for device in devices:
        for model_name in args.models:
            for batch_size in args.batch_sizes:
                steps = args.steps * (10 if device == "cuda" else 1)
                # Synthetic images: the step's cost does not depend on what the pixels show.
                n = (steps + 2) * batch_size
                images = torch.randint(
                    0, 256, (n, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
                )
                labels = torch.arange(n) % 10
                rate, _ = measure("dataloader", model_name, batch_size, steps, device, images, labels)
                rates[f"{device}/{model_name}/{batch_size}"] = round(rate, 1)
                print(f"{device:<5} {model_name:<9} batch {batch_size:>3}: {rate:8.1f} images/s", flush=True)
    record = {
        "images_per_s": rates,
        "cpu_model": cpu_model(),
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
