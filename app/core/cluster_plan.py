"""Which index workers a Ray cluster gets: one per CPU of each node, sharing its GPUs.

Public API::

    plan_workers(ray.nodes(), device="auto", workers=None) -> [WorkerSlot(node_id, num_gpus, device)]

Why per node: Ray places an actor anywhere its resources fit, and a worker that asks for a
GPU share can only run on a node with GPUs. So each slot names its node (the caller pins it
there with a node-affinity strategy) and asks for what that node has:

- a node with GPUs (and ``device`` not "cpu"): one worker per CPU, each asking for an equal
  share of the node's GPUs (at most one whole GPU: an encoder uses one device), and told to
  run on CUDA; several workers per GPU keep it busy while each decodes audio on its CPU;
- any other node: one worker per CPU on the CPU, told so (a worker without a GPU share must
  not pick up a GPU Ray has given to another).

``device`` "cuda" uses GPU nodes only. ``workers`` caps the count, GPU slots first (they
embed many times faster). Nodes that are not alive, and nodes without a whole CPU, get none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GPU_SHARE_DIGITS = 4  # Ray keeps fractional resources to 1e-4: shares round down to stay within


@dataclass(frozen=True)
class WorkerSlot:
    node_id: str
    num_gpus: float  # 0: CPU only
    device: str  # what the worker's encoder is told: "cuda" or "cpu"


def plan_workers(
    nodes: Sequence[Mapping[str, Any]], device: str = "auto", workers: int | None = None
) -> list[WorkerSlot]:
    """The workers to start on ``nodes`` (``ray.nodes()``); see the module doc."""
    gpu_slots: list[WorkerSlot] = []
    cpu_slots: list[WorkerSlot] = []
    for node in nodes:
        if not node.get("Alive", False):
            continue
        resources = node.get("Resources", {})
        cpus, gpus = int(resources.get("CPU", 0)), float(resources.get("GPU", 0))
        if gpus > 0 and device != "cpu":
            scale = 10**GPU_SHARE_DIGITS
            share = math.floor(min(1.0, gpus / max(cpus, 1)) * scale) / scale
            gpu_slots += [WorkerSlot(node["NodeID"], share, "cuda")] * cpus
        else:
            cpu_slots += [WorkerSlot(node["NodeID"], 0.0, "cpu")] * cpus
    slots = gpu_slots + ([] if device == "cuda" else cpu_slots)
    return slots if workers is None else slots[: max(0, workers)]
