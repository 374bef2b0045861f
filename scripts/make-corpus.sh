#!/usr/bin/env bash
# Renders the synthetic training corpus and the held-out-soundfont corpus (resumable).
#   scripts/make-corpus.sh [JOBS]      default JOBS=1; re-run the same command to resume
# data/corpus/             2400 x 30 s clips, seed 1, FluidR3_GM + TimGM6mb (train/val/test split column)
# data/corpus_heldout_sf/  300 x 30 s clips, seed 2, MuseScore_General_Lite (a soundfont never
#                          used in training: evaluate on all of its rows)
# As root it first installs the three soundfont packages (Debian); otherwise it says which are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${1:-1}"
SF2=/usr/share/sounds/sf2
HELDOUT=/usr/share/sounds/sf3/MuseScore_General_Lite.sf3
packages=(fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont-small)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "make-corpus: missing Debian packages; run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
nice -n 10 .venv/bin/python -m model.synth --out data/corpus --count 2400 --seed 1 --seconds 30 \
  --soundfonts "$SF2/FluidR3_GM.sf2" "$SF2/TimGM6mb.sf2" --jobs "$JOBS"
nice -n 10 .venv/bin/python -m model.synth --out data/corpus_heldout_sf --count 300 --seed 2 \
  --seconds 30 --soundfonts "$HELDOUT" --jobs "$JOBS"
