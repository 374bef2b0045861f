"""``soundalike search QUERY... [options]``: rank library tracks like the query clip(s).

Output: a table, or with ``--json`` the contract of DESIGN.md: a list of
``{path, score, offset_s, dimensions: {genre, mood, instrument, tempo}, dimensions_raw, score_raw,
bpm}``: ``dimensions`` are calibrated against the library's spread (0 = unrelated, 1 = identical),
``score`` their slider-weighted mean; ``dimensions_raw`` are the cosines, ``score_raw`` Σ w·cos.
Beyond the contract (the paper's future work):
- several QUERY clips: multi-query, their vectors combined;
- ``--ref tempo=B.wav`` (repeatable): mix-and-match, that dimension's reference is clip B.
``--start/--end`` select the region of the QUERY clip(s); ``--ref`` clips are used whole.
The query's own files are left out of the results unless ``--include-self``.
``--tags "calm piano"`` ranks by the model's auto-tags (alone, or averaged with the clip's
similarity when QUERY is given); ``--instrumental`` keeps only tracks tagged instrumental.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from app.cli import CliError
from app.commands._library import add_library_options, load_encoder, open_catalog, read_list
from app.core.types import DIMENSIONS, SearchFilters, SearchWeights, display_path

HELP = "find library tracks that sound like a clip, weighted by genre, mood, instrument, tempo"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queries", nargs="*", metavar="QUERY", help="audio clip(s) to match")
    parser.add_argument(
        "--from-list", type=Path, metavar="LIST",
        help="search each clip listed (one path a line) with the model loaded once; prints JSON "
             'lines {"query": PATH, "results": [...]} or {"query": PATH, "error": REASON}',
    )  # fmt: skip
    add_library_options(parser)
    parser.add_argument(
        "--weights", default="", metavar="W",
        help="e.g. genre=1,mood=0.5,instrument=0,tempo=1 (unnamed dimensions weigh 1)",
    )
    parser.add_argument("--start", type=float, metavar="S", help="query region start (seconds)")
    parser.add_argument("--end", type=float, metavar="S", help="query region end (seconds)")
    parser.add_argument("-k", type=int, default=10, metavar="N", help="number of results")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--ref", action="append", default=[], metavar="DIM=FILE",
        help="take dimension DIM's reference from FILE (mix-and-match; repeatable)",
    )
    parser.add_argument("--max-per-album", type=int, metavar="N",
                        help="at most N results per album or artist (tags, else folder)")
    parser.add_argument("--bpm-min", type=float, metavar="X")
    parser.add_argument("--bpm-max", type=float, metavar="X")
    parser.add_argument("--min-duration", type=float, metavar="S")
    parser.add_argument("--max-duration", type=float, metavar="S")
    parser.add_argument(
        "--include-self", action="store_true", help="keep the query files in the results"
    )
    parser.add_argument(
        "--exclude-album", action="store_true", help="leave out tracks of the query's album"
    )
    parser.add_argument("--tags", default="", metavar="WORDS",
                        help='rank by auto-tags, e.g. "calm piano" (with or without a QUERY clip)')
    parser.add_argument("--instrumental", action="store_true",
                        help="only tracks whose auto-tags say instrumental")


def _parse_refs(items: list[str]) -> dict[str, str]:
    refs: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in DIMENSIONS or not path:
            raise CliError(f"bad --ref {item!r}: expected DIM=FILE with DIM one of {', '.join(DIMENSIONS)}")
        refs[name] = path
    return refs


def _parse_weights(text: str) -> SearchWeights:
    try:
        weights = SearchWeights.parse(text)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if weights.is_zero:
        raise CliError("all weights are zero; give at least one dimension a weight > 0")
    return weights


def _table(results: list) -> str:
    """Scores and dimensions are calibrated (0 = unrelated in this library, 1 = identical)."""
    head = f"{'#':>3}  {'score':>6}  {'at':>6}  " + "  ".join(f"{d[:5]:>5}" for d in DIMENSIONS)
    lines = [head + "  track"]
    for i, r in enumerate(results, 1):
        minutes, seconds = divmod(int(r.offset_s), 60)
        dims = "  ".join(f"{r.dimensions[d]:5.2f}" for d in DIMENSIONS)
        tags = f"  [{', '.join(r.tags)}]" if r.tags else ""
        lines.append(f"{i:>3}  {r.score:6.2f}  {minutes:3d}:{seconds:02d}  {dims}  {display_path(r.track.path)}{tags}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    weights = _parse_weights(args.weights)
    refs = _parse_refs(args.ref)
    if args.max_per_album is not None and args.max_per_album < 1:
        raise CliError("--max-per-album must be at least 1")
    if args.k < 1:
        raise CliError("-k must be at least 1")
    if args.from_list is not None:
        if args.queries:
            raise CliError("give QUERY clips or --from-list, not both")
        args.batch = read_list(args.from_list)
        if not args.batch:
            raise CliError(f"--from-list {args.from_list} lists no clips")
    elif not args.queries and not args.tags.strip():
        raise CliError("give a QUERY clip, --tags WORDS, or both")
    for path in [*args.queries, *refs.values()]:
        if not os.path.isfile(path):
            raise CliError(f"cannot read query {display_path(path)}: no such file")
    catalog = open_catalog(args, create=False)
    try:
        return _search(args, catalog, weights, refs)
    finally:
        catalog.close()


def _search(args: argparse.Namespace, catalog, weights: SearchWeights, refs: dict[str, str]) -> int:  # noqa: ANN001
    from app.core.library import Library
    from app.core.query import SearchError

    if catalog.track_count("ok") == 0:
        raise CliError(f"the library {catalog.path} has no indexed tracks; run `soundalike index DIR`")
    library = Library(catalog, load_encoder(args, catalog=catalog, onnx=True, spin=False))
    # The track vectors load (and the library's spread is sampled) on the other core while
    # the query clip is decoded and embedded: the two take about as long at 100k tracks.
    loading = threading.Thread(target=_load_quietly, args=(library,), daemon=True)
    loading.start()
    prepared: object = None
    try:
        if args.from_list is None and args.queries:
            prepared = _prepare(args, library, refs, args.queries)
    except SearchError as exc:  # reported in turn, after the library's own checks
        prepared = exc
    finally:
        loading.join()  # never leave it reading a catalog that is being closed
    if len(library) == 0:
        raise CliError(
            f"the library {catalog.path} was indexed with another model; run `soundalike index` "
            "with this model to re-embed it"
        )
    stale = library.stale_count()
    if stale:
        print(f"note: {stale} tracks were indexed with another model and are not searched; "
              "run `soundalike index` to re-embed them", file=sys.stderr)
    filters = SearchFilters(
        bpm_min=args.bpm_min, bpm_max=args.bpm_max,
        duration_min_s=args.min_duration, duration_max_s=args.max_duration,
        instrumental=args.instrumental, tags=args.tags, max_per_group=args.max_per_album,
    )
    try:
        _groups, unknown = library.parse_tags(args.tags)
        if unknown:
            print(f"note: no tag matches {', '.join(map(repr, unknown))}; ignored", file=sys.stderr)
        if args.from_list is not None:
            return _search_each(args, library, weights, filters, refs)
        if isinstance(prepared, SearchError):
            raise prepared
        query, results = _search_one(args, library, weights, filters, refs, args.queries, prepared)
    except SearchError as exc:
        raise CliError(str(exc)) from None
    if query is not None and query.padded:
        print("note: a query clip is shorter than one window (2.97 s) and was padded with silence",
              file=sys.stderr)
    if args.json:
        json.dump([r.to_json() for r in results], sys.stdout, indent=2)
        print()
    else:
        print(_table(results) if results else "no tracks match (check the filters)")
    return 0


def _load_quietly(library) -> None:  # noqa: ANN001
    """Load the library's engine and spread; a failure is left for the main thread to meet
    again (and report) when it asks for them."""
    try:
        library.engine.spread  # noqa: B018
    except Exception:  # noqa: BLE001, S110
        pass


def _prepare(args, library, refs, clips):  # noqa: ANN001, ANN202
    """The query for the clips combined (multi-query), mixed with the ``--ref`` clips."""
    from app.core.query import combine_queries, mix_queries

    query = combine_queries([library.prepare_query(p, args.start, args.end) for p in clips])
    if refs:
        query = mix_queries(query, {d: library.prepare_query(p) for d, p in refs.items()})
    return query


def _search_one(args, library, weights, filters, refs, clips, query=None):  # noqa: ANN001, ANN202
    """(query or None, results) for the clips combined (multi-query) and the tag filter;
    ``query``: those clips' query, already prepared."""
    if clips and query is None:
        query = _prepare(args, library, refs, clips)
    results = library.search(
        query, weights, args.k, filters,
        exclude_query_files=not args.include_self, exclude_query_albums=args.exclude_album,
    )  # fmt: skip
    return query, results


def _search_each(args, library, weights, filters, refs) -> int:  # noqa: ANN001
    """``--from-list``: one JSON line per clip, written as soon as it is ranked."""
    from app.core.query import SearchError

    found = 0
    for clip in args.batch:
        try:
            _query, results = _search_one(args, library, weights, filters, refs, [clip])
            line = {"query": clip, "results": [r.to_json() for r in results]}
            found += 1
        except SearchError as exc:
            line = {"query": clip, "error": str(exc)}
        print(json.dumps(line), flush=True)
    return 0 if found else 1
