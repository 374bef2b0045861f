#!/usr/bin/env bash
# Collects the free music of Debian packages (game soundtracks, music packs) into data/real/ with
# manifest.csv; one command, resumable: .deb files are cached in data/debs/ (downloaded once with
# apt-get download, unpacked without installing), finished tracks are skipped.
#   scripts/prepare-real-music.sh [--tempo] [--packages P ...]
# --tempo adds beat-tracker BPM as a last pass (slow). 71 packages: 7.2 GB of .deb downloads
# (0ad-data alone 1.4 GB), ~170 MB of 22.05 kHz mono FLAC per hour of music in data/real/.
# Log of the shared run: data/logs/real-corpus.log.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ffmpeg >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "prepare-real-music: sudo apt-get install ffmpeg" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg
fi
exec nice -n 15 .venv/bin/python -m model.corpus.real_music --out data/real --debs data/debs "$@"
