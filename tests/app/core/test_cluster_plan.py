"""The index workers a cluster gets: GPU shares where a node has GPUs, the CPU elsewhere
(decided from Ray's node list, so no GPU is needed to test it)."""

from __future__ import annotations

from app.core.cluster_plan import WorkerSlot, plan_workers


def _node(node_id: str, cpus: float, gpus: float = 0, alive: bool = True) -> dict:
    resources = {"CPU": cpus, "memory": 1e9, **({"GPU": gpus} if gpus else {})}
    return {"NodeID": node_id, "Alive": alive, "Resources": resources}


def test_cpu_only_cluster_runs_one_cpu_worker_per_cpu() -> None:
    slots = plan_workers([_node("a", 2), _node("b", 1)])
    assert slots == [WorkerSlot("a", 0.0, "cpu")] * 2 + [WorkerSlot("b", 0.0, "cpu")]


def test_gpu_node_workers_share_its_gpus_and_run_on_cuda() -> None:
    slots = plan_workers([_node("cpu", 2), _node("gpu", 3, gpus=1)])
    assert [s.node_id for s in slots] == ["gpu"] * 3 + ["cpu"] * 2  # GPU slots first
    gpu = slots[:3]
    assert all(s.device == "cuda" and 0 < s.num_gpus for s in gpu)
    assert sum(s.num_gpus for s in gpu) <= 1.0 and gpu[0].num_gpus == 0.3333
    assert all(s == WorkerSlot("cpu", 0.0, "cpu") for s in slots[3:])


def test_more_gpus_than_cpus_gives_each_worker_one_gpu() -> None:
    assert plan_workers([_node("g", 2, gpus=4)]) == [WorkerSlot("g", 1.0, "cuda")] * 2


def test_device_cpu_leaves_gpus_alone_and_dead_nodes_get_nothing() -> None:
    nodes = [_node("g", 2, gpus=1), _node("dead", 8, alive=False), _node("half", 0.5)]
    assert plan_workers(nodes, device="cpu") == [WorkerSlot("g", 0.0, "cpu")] * 2
    assert plan_workers([_node("c", 4)], device="cuda") == []  # asked for CUDA: no CPU workers


def test_a_worker_count_keeps_the_gpu_slots_first() -> None:
    nodes = [_node("cpu", 4), _node("gpu", 2, gpus=2)]
    assert plan_workers(nodes, workers=3) == [WorkerSlot("gpu", 1.0, "cuda")] * 2 + [WorkerSlot("cpu", 0.0, "cpu")]
    assert plan_workers(nodes, workers=0) == []
