"""The numeric precision a run trains in, one object for both loops.

- `fp32`: plain float32 (ours, and source 000's CPU-against-GPU runs).
- `amp`: fp16 autocast with a GradScaler, as both sources trained on their GPUs. CUDA only: fp16 autocast on a CPU is
  not what the sources ran and torch's CPU autocast has no fp16 path worth timing, so a CPU run asking for it is refused
  with the fix, before it reads any data.
- `bf16`: bfloat16 autocast without a scaler (bf16 keeps fp32's exponent range), on CUDA or the CPU.
Evaluation runs under the same autocast as training.
"""

import contextlib

import torch

PRECISIONS = ("fp32", "amp", "bf16")
AMP_ON_CPU = (
    "This run asks for precision=amp (fp16 autocast + GradScaler, as the sources trained on their GPUs) on "
    "device={device}; amp is CUDA-only here. Give the run `precision: fp32` (or `bf16`) for the CPU, or `device: cuda`."
)


class Precision:
    def __init__(self, name: str, device: str):
        if name not in PRECISIONS:
            raise ValueError(f"unknown precision {name!r}; one of {', '.join(PRECISIONS)}")
        if name == "amp" and device != "cuda":
            raise ValueError(AMP_ON_CPU.format(device=device))
        self.name, self.device = name, device
        self.scaler = torch.amp.GradScaler("cuda") if name == "amp" else None

    def autocast(self):
        if self.name == "fp32":
            return contextlib.nullcontext()
        dtype = torch.float16 if self.name == "amp" else torch.bfloat16
        return torch.autocast(device_type=self.device, dtype=dtype)

    def backward_and_step(self, loss, optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()

    def state_dict(self) -> dict | None:
        """The GradScaler's state (scale, growth tracker), saved in a checkpoint so that a resumed run continues it."""
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
