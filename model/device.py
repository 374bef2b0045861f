"""Where the network runs and in which precision: one rule for the encoder and the trainer.

Public API::

    resolve_device("auto" | "cpu" | "cuda" | "cuda:N") -> torch.device
    choose_precision(device, "auto" | "fp32" | "bf16" | "fp16") -> torch.dtype
    cpu_supports_bf16() -> bool

"auto" is CUDA when a GPU answers a first allocation, else the CPU: torch can list a GPU
whose driver then fails, and such a machine must work on its CPU with a warning, not stop.
An explicit "cuda" without a GPU is a ``ValueError`` (the user asked for something
impossible). Precision "auto": bf16 on GPUs that have it, fp16 on older ones (the trainer
adds a GradScaler), bf16 on CPUs that compute it natively, else float32;
``$SOUNDALIKE_PRECISION`` overrides it for both.
"""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


def cuda_usable() -> bool:
    """torch sees a GPU and a first allocation on it works (warns when it does not)."""
    if not torch.cuda.is_available():
        return False
    try:
        torch.zeros(1, device="cuda")
    except (RuntimeError, AssertionError) as exc:  # driver/init failure; CPU-only torch asserts
        log.warning("CUDA failed (%s); falling back to CPU", first_line(exc))
        return False
    return True


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" -> CUDA when usable else CPU; "cuda" without a GPU raises ``ValueError``."""
    if device == "auto":
        return torch.device("cuda" if cuda_usable() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but no CUDA GPU is available")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r} (use auto, cpu or cuda)")
    return torch.device(device)


def cpu_supports_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (otherwise bf16 is slower than fp32)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # an older or newer torch without these helpers
        return False


def choose_precision(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The autocast dtype: bf16/fp16 where fast and accurate enough, else float32."""
    forced = os.environ.get("SOUNDALIKE_PRECISION", "").lower()
    precision = forced or precision
    table = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision in table:
        return table[precision]
    if precision != "auto":
        raise ValueError(f"unknown precision {precision!r} (auto, fp32, bf16, fp16)")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else torch.float32
