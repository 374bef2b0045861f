#!/usr/bin/env bash
# Collects free game music from Debian packages into data/real/ with manifest.csv (one command;
# resumable; apt-get runs only for packages not yet installed, so nothing downloads twice).
#   scripts/prepare-real-music.sh        (as root: installs wesnoth-1.16-music, warzone2100-music,
#                                         nexuiz-music, ufoai-music and ffmpeg; ~530 MB download)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ffmpeg >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "prepare-real-music: sudo apt-get install ffmpeg" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg
fi
nice -n 10 .venv/bin/python -m model.synth.real_music --out data/real --tempo "$@"
