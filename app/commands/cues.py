"""``soundalike cues TIMELINE``: every temp-music cue of a timeline and its ranked replacements.

Output: a table per cue, or with ``--json`` the contract of DESIGN.md:
``[{"cue": {index, name, track, source, source_in_s, source_out_s, record_in_s},
"results": [<search result>]}]``. Timelines: FCP 7 XML (.xml), FCPXML (.fcpxml), CMX 3600
EDL (.edl, media found by clip or reel name in ``--media-dir``), AAF (.aaf), OpenTimelineIO
(.otio).
"""

from __future__ import annotations

import argparse
import json
import sys

from app.cli import CliError
from app.commands._library import add_library_options, load_encoder, open_catalog
from app.commands.search import _parse_weights, _table

HELP = "list a timeline's music cues with ranked replacements from the library"


def add_cue_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``cues`` and ``conform`` (they must list the same cues)."""
    parser.add_argument("timeline", metavar="TIMELINE", help=".xml, .fcpxml, .edl, .aaf or .otio")
    add_library_options(parser)
    parser.add_argument("--weights", default="", metavar="W", help="as for `search`")
    parser.add_argument("-k", type=int, default=10, metavar="N", help="results per cue")
    parser.add_argument("--track", action="append", default=[], metavar="NAME",
                        help="audio track holding music (name or A1, A2...; repeatable; default all)")
    parser.add_argument("--media-dir", metavar="DIR", help="where an EDL's media files are")


def configure(parser: argparse.ArgumentParser) -> None:
    add_cue_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def find_cues(args: argparse.Namespace):  # noqa: ANN201
    """Read the timeline and search each cue: ``(cues, [(cue, results)])``; CliError on failure."""
    from app.core.cues import search_cues
    from app.core.library import Library
    from app.core.query import SearchError
    from app.core.timeline import TimelineError, list_cues, read_timeline

    weights = _parse_weights(args.weights)
    if args.k < 1:
        raise CliError("-k must be at least 1")
    try:
        cues = list_cues(read_timeline(args.timeline), args.track, args.media_dir)
    except TimelineError as exc:
        raise CliError(str(exc)) from None
    if not cues:
        raise CliError(f"{args.timeline}: no clips on audio tracks")
    catalog = open_catalog(args, create=False)
    try:
        library = Library(catalog, load_encoder(args, catalog=catalog))  # the model choice of `search`
        if len(library) == 0:
            raise CliError(f"the library {catalog.path} has no tracks indexed with this model; "
                           "run `soundalike index DIR`")
        return cues, search_cues(library, cues, weights, args.k)
    except SearchError as exc:
        raise CliError(str(exc)) from None
    finally:
        catalog.close()


def run(args: argparse.Namespace) -> int:
    _, found = find_cues(args)
    if args.json:
        json.dump([{"cue": cue.to_json(), "results": [r.to_json() for r in results]}
                   for cue, results in found], sys.stdout, indent=2)
        print()
        return 0
    for cue, results in found:
        print(f"cue {cue.index}: {cue.name or '(unnamed)'}  track {cue.track}  at {cue.record_in_s:.2f} s  "
              f"{cue.source} [{cue.source_in_s:.2f}-{cue.source_out_s:.2f} s]")
        print(_table(results) if results else "  no tracks match")
        print()
    return 0
