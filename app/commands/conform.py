"""``soundalike conform TIMELINE -o OUT``: the timeline with each music cue replaced.

Each cue's clip takes its choice (``--choices``: ``{"INDEX": {"path", "offset_s"}}``; cues
not listed take their top result) from its offset, with the cue's duration and record
position; all other clips and tracks stay as they are. OUT's extension picks the format.
"""

from __future__ import annotations

import argparse
import sys

from app.cli import CliError
from app.commands.cues import add_cue_options, find_cues

HELP = "write the timeline with each music cue replaced by its chosen (default: top) result"


def configure(parser: argparse.ArgumentParser) -> None:
    add_cue_options(parser)
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="conformed timeline")
    parser.add_argument("--choices", metavar="CHOICES.json", help="cue index -> {path, offset_s}")


def run(args: argparse.Namespace) -> int:
    from app.core.cues import read_choices, top_choices
    from app.core.timeline import TimelineError, conform_timeline

    try:
        chosen = read_choices(args.choices) if args.choices else {}
        cues, found = find_cues(args)
        choices = {**top_choices(found), **chosen}
        conform_timeline(args.timeline, args.output, cues, choices)
    except TimelineError as exc:
        raise CliError(str(exc)) from None
    for cue in cues:
        choice = choices.get(cue.index)
        what = f"{choice.path} from {choice.offset_s:.2f} s" if choice else "kept (no result)"
        print(f"cue {cue.index} {cue.name or '(unnamed)'}: {what}", file=sys.stderr)
    return 0
