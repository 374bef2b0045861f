"""Indexing spread over a Ray cluster: many machines embed into one PostgreSQL catalog.

Public API::

    indexer = ClusterIndexer(catalog, model_path, cluster="local" | "ray://HOST:PORT")
    for progress in indexer.run(["/mnt/library"], summary=summary):
        ...                         # gathered here from every worker; a cancellation point
    indexer.worker_pids()           # the live workers' process ids (tests kill one)

How a run goes:
1. This process (the driver) scans the folders and plans the run against the catalog
   exactly as a local run does (app.core.indexer.plan_run): moves and removals are applied
   and the files to embed are marked ``pending``. Those rows make the run resumable: a run
   stopped anyhow leaves them pending and the next run embeds them.
2. One ``IndexWorker`` Ray actor per CPU of each node (``workers`` to cap the count), pinned
   to its node; on a node with GPUs each asks for a share of them and embeds on CUDA, else
   it embeds on 1 CPU thread (app.core.cluster_plan). Each checks that it sees the model
   file at the same path with the same model id (a machine with another copy is refused:
   vectors of two models never meet in one library), loads the encoder and opens the
   catalog itself. Every machine must see the library and the model at the driver's paths.
3. Files go out in chunks of ``chunk_files``, at most two chunks in flight per worker (the
   next is queued while one runs). A worker decodes and embeds its chunk and writes it to
   PostgreSQL in batches (app.core.indexer.embed_files), then reports counts back here.
4. A worker that dies (its process killed, its machine gone) fails its chunks' results:
   those chunks go back to the head of the queue for the workers still alive (upserts make
   redoing a half-written chunk harmless); the run stops only when none is left, and the
   next run resumes it. No replacement is started: loading torch and the model costs a
   worker seconds to minutes, and the run's summary says how many were lost. A worker whose
   chunk raises (the database refused a write) stops the run.

Ray is imported only when a run starts: ``import app`` and the desktop bundle never need it.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.cluster_plan import WorkerSlot, plan_workers
from app.core.indexer import Cancel, IndexSummary, embed_files, is_cancelled, plan_run
from app.core.scanner import ScannedFile
from app.core.types import Progress
from model.model_id import model_id_of

IN_FLIGHT = 2  # chunks queued per worker: one running, one waiting (no idle gap between them)
RAY_MISSING = "distributed indexing needs Ray: pip install 'soundalike[studio]'"
TOKEN_HINT = "if the cluster uses tokens, as `ray start` sets up: copy its ~/.ray/auth_token here or set RAY_AUTH_TOKEN"


class ClusterError(Exception):
    """The cluster run cannot go on; ``str(e)`` is a one-line reason."""


@dataclass(frozen=True)
class ChunkResult:
    """What a worker reports for one chunk of files."""

    done: int
    audio_seconds: float
    failed: list[tuple[str, str]]
    cpu_s: float  # CPU seconds the worker spent on it (benchmarks compare per CPU-second)


class IndexWorker:
    """The Ray actor (wrapped with ``ray.remote`` at run time): embeds chunks into the catalog."""

    def __init__(self, url: str, model_path: str, model_id: str, device: str) -> None:
        self._args = (url, model_path, model_id, device)
        self._catalog: Any = None
        self._encoder: Any = None

    def start(self) -> tuple[str, int]:
        """Check the model and load it; ``(reason, pid)``: reason is "" when ready."""
        url, model_path, model_id, device = self._args
        node = socket.gethostname()
        if not os.path.isfile(model_path):
            return f"worker on {node}: no model file at {model_path}", os.getpid()
        found = model_id_of(model_path)
        if found != model_id:
            return (f"worker on {node}: {model_path} is model {found}, not the run's {model_id}; "
                    "every machine must have the same model file"), os.getpid()  # fmt: skip
        # The encoder's runtime is imported after the checks.
        from app.core.catalog_pg import PgCatalog
        from model.onnx_encoder import load_onnx_encoder

        # As `soundalike index` on one core: the ONNX export (OpenVINO bf16 where the CPU has
        # bf16 units), torch on a GPU or without a matching export.
        self._encoder = load_onnx_encoder(model_path, threads=1, device=device, bulk=True)
        if self._encoder is None:
            from model.encoder import Encoder

            self._encoder = Encoder.load(model_path, device=device, threads=1)
        self._catalog = PgCatalog.open(url, create=False)
        return "", os.getpid()

    def index(self, files: Sequence[ScannedFile]) -> ChunkResult:
        summary, cpu = IndexSummary(), time.process_time()
        for _ in embed_files(self._catalog, list(files), self._encoder, None, 0, 64, 32, summary):
            pass
        return ChunkResult(len(files), summary.audio_seconds, summary.failed, time.process_time() - cpu)


def _send_token() -> None:
    """Make the Ray client send the cluster's token when this machine has one.

    ``ray start`` turns token authentication on by default (Ray 2.5x) with the token in
    ``~/.ray/auth_token``, but a Ray client only sends it with ``RAY_AUTH_MODE=token``: without
    it, every connection is refused and ``ray.init`` reports a timeout 30 s later. An explicit
    ``RAY_AUTH_MODE`` (``disabled`` for a cluster without tokens) is left as it is.
    """
    has_token = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.isfile(
        os.path.expanduser("~/.ray/auth_token")
    )
    if has_token:
        os.environ.setdefault("RAY_AUTH_MODE", "token")


def connect(cluster: str, workers: int | None) -> tuple[Any, bool]:
    """``(ray, owned)``: Ray connected to ``cluster``; ``owned`` when this call started it."""
    if cluster.startswith("ray://"):
        _send_token()  # before Ray's import: it reads its configuration then
    # A cluster that ray.init starts here would report usage to Ray's makers (on by default);
    # a user who wants that sets the variable to 1.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise ClusterError(RAY_MISSING) from None
    if ray.is_initialized():
        return ray, False
    options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if cluster == "local":
        ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, **options)
    elif cluster.startswith("ray://"):
        try:
            ray.init(address=cluster, **options)
        except (ConnectionError, RuntimeError) as exc:
            raise ClusterError(f"cannot reach the Ray cluster at {cluster}: {exc} ({TOKEN_HINT})") from None
    else:
        raise ClusterError(f"--cluster takes 'local' or ray://HOST:PORT, not {cluster!r}")
    return ray, True


class ClusterIndexer:
    """One distributed index run into a PostgreSQL catalog (see the module doc)."""

    def __init__(
        self, catalog: Any, model_path: str | os.PathLike[str], *, cluster: str = "local",
        workers: int | None = None, device: str = "auto", chunk_files: int = 4,
    ) -> None:
        if not hasattr(catalog, "url"):
            raise ClusterError("a cluster run writes to a shared catalog: pass --db postgresql://...")
        self.catalog = catalog
        self.model_path = os.path.abspath(os.fspath(model_path))
        self.model_id = model_id_of(self.model_path)
        self.cluster, self.workers, self.device = cluster, workers, device
        self.chunk_files = max(1, chunk_files)
        self._actors: dict[Any, int] = {}  # live actor -> its process id
        self.worker_cpu_s = 0.0  # CPU seconds the workers spent on the chunks they finished

    def worker_pids(self) -> list[int]:
        return list(self._actors.values())

    def run(
        self, folders: Sequence[str | os.PathLike[str]], *, cancel: Cancel = None,
        summary: IndexSummary | None = None,
    ) -> Iterator[Progress]:
        summary = summary if summary is not None else IndexSummary()
        todo = yield from plan_run(self.catalog, folders, self.model_id, self.model_path, cancel, summary)
        if not todo:
            return
        ray, owned = connect(self.cluster, self.workers)
        try:
            yield from self._dispatch(ray, todo, cancel, summary)
        finally:
            for actor in list(self._actors):
                ray.kill(actor)
            self._actors.clear()
            if owned:
                ray.shutdown()

    def _start_workers(self, ray: Any, slots: list[WorkerSlot]) -> None:
        """A worker per slot, loading their models in parallel; the first refusal stops the run."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        worker_class = ray.remote(num_cpus=1, max_restarts=0)(IndexWorker)
        actors = [
            worker_class.options(
                num_gpus=slot.num_gpus,
                scheduling_strategy=NodeAffinitySchedulingStrategy(slot.node_id, soft=False),
            ).remote(self.catalog.url, self.model_path, self.model_id, slot.device)
            for slot in slots
        ]
        try:
            started = ray.get([actor.start.remote() for actor in actors])
        except ray.exceptions.RayError as exc:
            started = [(f"a worker failed to start: {str(exc).strip().splitlines()[-1]}", 0)]
        reasons = [reason for reason, _ in started if reason]
        if reasons:
            for actor in actors:
                ray.kill(actor)
            raise ClusterError(reasons[0])
        self._actors = {actor: pid for actor, (_, pid) in zip(actors, started, strict=True)}

    def _dispatch(
        self, ray: Any, todo: list[ScannedFile], cancel: Cancel, summary: IndexSummary
    ) -> Iterator[Progress]:
        slots = plan_workers(ray.nodes(), self.device, self.workers)
        if not slots:
            raise ClusterError(f"the cluster has no {'GPU' if self.device == 'cuda' else 'CPU'} for a worker")
        on_gpu = sum(slot.num_gpus > 0 for slot in slots)
        yield Progress(0, len(todo), f"starting {len(slots)} workers on the cluster ({on_gpu} with a GPU share)")
        self._start_workers(ray, slots)
        yield Progress(0, len(todo), f"{len(slots)} workers ready")
        queue = deque(todo[i : i + self.chunk_files] for i in range(0, len(todo), self.chunk_files))
        in_flight: dict[Any, tuple[Any, list[ScannedFile]]] = {}  # result ref -> (actor, chunk)
        done, started = 0, time.monotonic()
        while queue or in_flight:
            if is_cancelled(cancel):
                summary.cancelled = True
                return
            for actor in list(self._actors):
                while queue and sum(a is actor for a, _ in in_flight.values()) < IN_FLIGHT:
                    chunk = queue.popleft()
                    in_flight[actor.index.remote(chunk)] = (actor, chunk)
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
            for ref in ready:
                actor, chunk = in_flight.pop(ref)
                try:
                    result: ChunkResult = ray.get(ref)
                except ray.exceptions.RayActorError:
                    queue.appendleft(chunk)  # its files go to another worker
                    summary.lost_workers += int(self._actors.pop(actor, None) is not None)
                    if not self._actors:
                        raise ClusterError("every worker died; run the same command again to resume") from None
                    continue
                except ray.exceptions.RayTaskError as exc:
                    raise ClusterError(f"a worker failed: {str(exc).strip().splitlines()[-1]}") from None
                done += result.done
                self.worker_cpu_s += result.cpu_s
                summary.audio_seconds += result.audio_seconds
                summary.failed.extend(result.failed)
                rate = summary.audio_seconds / max(time.monotonic() - started, 1e-6)
                mean_s = summary.audio_seconds / max(1, done - len(summary.failed))
                yield Progress(
                    done, len(todo),
                    f"indexed {done}/{len(todo)} files on {len(self._actors)} workers, {rate:.0f}x real time",
                    rate=rate, eta_s=(len(todo) - done) * mean_s / rate if rate > 0 else None,
                )  # fmt: skip

