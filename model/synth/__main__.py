"""Command line: ``python -m model.synth --out data/corpus --count N --seed S ...``.

Re-running the same command resumes: finished clips are skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from model.synth.corpus import CorpusConfig, render_corpus

DEFAULT_SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.synth", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="corpus folder")
    parser.add_argument("--count", type=int, required=True, help="number of clips")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=30.0, help="clip length")
    parser.add_argument("--soundfonts", nargs="+", default=list(DEFAULT_SOUNDFONTS),
                        help="soundfont files (.sf2/.sf3), assigned to clips in rotation")
    parser.add_argument("--jobs", type=int, default=1, help="parallel fluidsynth processes")
    parser.add_argument("--quality", type=float, default=0.35,
                        help="Vorbis compression level 0 (best) .. 1 (smallest)")
    parser.add_argument("--readable-names", action="store_true",
                        help="name clips genre_mood_instrument_BPMbpm_NN.ogg (demo library)")
    parser.add_argument("--tags", action="store_true", help="write Vorbis tags (demo library)")
    parser.add_argument("--keep-midi", action="store_true", help="keep each clip's .mid")
    args = parser.parse_args(argv)
    for sf2 in args.soundfonts:
        if not Path(sf2).is_file():
            print(f"synth: soundfont not found: {sf2}", file=sys.stderr)
            return 2
    config = CorpusConfig(args.out, args.count, args.seed, args.seconds, tuple(args.soundfonts),
                          args.jobs, args.quality, args.readable_names, args.tags, args.keep_midi)
    start = time.monotonic()
    last = None
    try:
        for last in render_corpus(config):
            if last.message.startswith("clip") and ":" in last.message:
                print(f"synth: {last.message}", file=sys.stderr)
            if last.done % 10 == 0 or last.done == last.total:
                elapsed = time.monotonic() - start
                rate = last.rendered / elapsed * 60 if elapsed > 0 else 0.0
                print(f"synth: {last.done}/{last.total} (rendered {last.rendered}, skipped "
                      f"{last.skipped}, failed {last.failed}) {rate:.1f} clips/min",
                      file=sys.stderr, flush=True)
    except ValueError as exc:
        print(f"synth: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("synth: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    elapsed = time.monotonic() - start
    if last is not None and last.rendered:
        audio = last.rendered * args.seconds
        print(f"synth: rendered {last.rendered} clips in {elapsed:.1f} s = "
              f"{last.rendered / elapsed * 60:.1f} clips/min, {audio / elapsed:.1f} s audio per s",
              file=sys.stderr)
    return 1 if last is not None and last.failed else 0


if __name__ == "__main__":
    sys.exit(main())
