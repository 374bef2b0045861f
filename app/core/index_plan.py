"""Compare a scan with the catalog: what to decode, what only moved, what went missing.

Public API::

    plan = yield from make_plan(catalog, files, roots, model_id, summary)  # reads the catalog only
    apply_plan(catalog, plan)                                    # the writes that need no decoding
    plan.todo                                                    # files to decode and embed

How a file on disk is matched with the catalog:
- same path, same size and mtime: unchanged (a row left ``missing`` earlier is revived,
  a row of another model is re-embedded);
- otherwise its content fingerprint (app.core.fingerprint) is looked up. A catalogued track
  with that content and vectors of this model gives them away: *moved* when its old path is
  gone (the row takes the new path), *copied* when the old file is still there (a new row
  with the same vectors). Nothing is decoded for either;
- only files with content the catalog has no vectors for are decoded (``todo``), and files
  whose row says indexed but lost its vectors (as ``soundalike check`` reports them).
Catalogued files under the scanned folders that were not found (and not moved) become
``missing``: they leave the search results but keep their vectors, so a drive that comes
back is found again without decoding. Rows without vectors (errors, pending) are dropped.
Folders that could not be listed this time keep their tracks as they are.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from app.core.catalog import Catalog, FileState, Relink
from app.core.fingerprint import fingerprint_or_none
from app.core.scanner import ScannedFile
from app.core.types import Progress

if TYPE_CHECKING:
    from app.core.indexer import IndexSummary


PROGRESS_EVERY = 200  # new paths fingerprinted between progress reports


@dataclass
class Plan:
    todo: list[ScannedFile] = field(default_factory=list)  # to decode
    reembed_only: set[str] = field(default_factory=set)  # paths whose row stays until re-embedded
    moves: list[Relink] = field(default_factory=list)
    copies: list[Relink] = field(default_factory=list)
    revived: list[int] = field(default_factory=list)  # missing rows whose file is back
    missing: list[int] = field(default_factory=list)  # rows whose file is gone (vectors kept)
    forget: list[str] = field(default_factory=list)  # gone paths without vectors
    fingerprints: list[tuple[int, str]] = field(default_factory=list)  # filled in for old rows


def _lost_vectors(state: FileState) -> bool:
    """A row marked indexed without vectors (an outside hand, a damaged catalog repaired by
    dropping rows: ``soundalike check`` reports it): never found until embedded again."""
    return state.status == "ok" and state.model_id is None


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def make_plan(
    catalog: Catalog, files: list[ScannedFile], roots: list[str], model_id: str,
    summary: IndexSummary,
) -> Generator[Progress, None, Plan]:
    """Decide what this run does (see the module doc); counts go to ``summary``.

    Yields progress while it fingerprints new paths (a moved library reads 192 KiB of each
    file); each yield is a cancellation point. Returns the plan.
    """
    plan = Plan()
    states = catalog.file_states()
    seen = {f.path for f in files}
    changed: list[tuple[ScannedFile, FileState | None]] = []
    for f in files:
        state = states.get(f.path)
        if (state is None or (state.size, state.mtime_ns) != (f.size, f.mtime_ns) or state.status == "pending"
                or _lost_vectors(state)):  # fmt: skip
            changed.append((f, state))
        elif state.model_id is not None and state.model_id != model_id:
            summary.reembedded += 1
            plan.reembed_only.add(f.path)
            plan.todo.append(replace(f, fingerprint=state.fingerprint or fingerprint_or_none(f.path)))
        else:
            summary.unchanged += 1
            if state.status == "missing":
                plan.revived.append(state.track_id)
            if state.fingerprint is None and state.model_id is not None:
                fp = fingerprint_or_none(f.path)
                if fp is not None:
                    plan.fingerprints.append((state.track_id, fp))
                    states[f.path] = replace(state, fingerprint=fp)
    donors: dict[str, list[tuple[str, FileState]]] = {}
    for path, state in states.items():
        if state.fingerprint and state.model_id == model_id and state.status in ("ok", "missing"):
            donors.setdefault(state.fingerprint, []).append((path, state))
    moved_away: set[str] = set()
    for i, (f, state) in enumerate(changed):
        if donors and i % PROGRESS_EVERY == 0 and i:
            yield Progress(i, len(changed), f"looking for moved and copied files: {i}/{len(changed)}")
        # With no vectors to reuse (a first run) the decode workers fingerprint the files.
        fp = fingerprint_or_none(f.path) if donors else None
        # Only a path without vectors takes a relinked row; a file rewritten in place is
        # decoded again (its old row may be another file's donor, e.g. two names swapped).
        donor = None if fp is None or (state is not None and state.model_id is not None) else (
            _donor(donors.get(fp, []), f.path, seen, moved_away)
        )
        if donor is not None:
            (donor_path, donor_state), is_move = donor
            link = Relink(donor_state.track_id, f.path, f.size, f.mtime_ns, fp)  # type: ignore[arg-type]
            if is_move:
                plan.moves.append(link)
                moved_away.add(donor_path)
                summary.moved += 1
            else:
                plan.copies.append(link)
                summary.copied += 1
            continue
        if state is None or (state.status == "pending" and state.model_id is None):
            summary.added += 1  # new, or new when an earlier run was interrupted
        else:
            summary.updated += 1
        plan.todo.append(replace(f, fingerprint=fp))
    unreadable = [p for p, _ in summary.problems]
    for path, state in states.items():
        if path in seen or path in moved_away or not _under(path, roots) or _under(path, unreadable):
            continue
        if state.model_id is None:
            plan.forget.append(path)
        elif state.status != "missing":
            plan.missing.append(state.track_id)
    summary.missing = len(plan.missing)
    summary.returned = len(plan.revived)
    return plan


def _donor(
    candidates: list[tuple[str, FileState]], path: str, seen: set[str], moved_away: set[str]
) -> tuple[tuple[str, FileState], bool] | None:
    """The catalogued track to take vectors from, and whether it moved (its file is gone).

    A gone file is preferred (a move), so a copy made before a move does not leave the
    moved track behind as ``missing``. A donor that already moved this run can still give
    its vectors to a copy.
    """
    others = [c for c in candidates if c[0] != path]
    for candidate in others:
        donor_path = candidate[0]
        if donor_path not in moved_away and donor_path not in seen and not os.path.exists(donor_path):
            return candidate, True
    return (others[0], False) if others else None


def apply_plan(catalog: Catalog, plan: Plan) -> int:
    """Write everything that needs no decoding; returns how many rows were forgotten."""
    if plan.fingerprints:
        catalog.set_fingerprints(plan.fingerprints)
    if plan.moves or plan.copies:
        catalog.relink(plan.moves, plan.copies)
    if plan.revived:
        catalog.set_status(plan.revived, "ok")
    if plan.missing:
        catalog.set_status(plan.missing, "missing")
    removed = catalog.remove_paths(plan.forget) if plan.forget else 0
    # New and changed files become visible as "pending" at once (the UI counts them); files
    # only re-embedded for a new model keep their old row until their batch replaces it.
    catalog.mark_pending(
        (f.path, f.size, f.mtime_ns, f.fingerprint) for f in plan.todo if f.path not in plan.reembed_only
    )
    return removed
