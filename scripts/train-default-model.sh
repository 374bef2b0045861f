#!/usr/bin/env bash
# The default model in one re-runnable command: data, training (resumable), evaluation, install.
#   scripts/train-default-model.sh [--max-minutes M] [--epochs N] [--init M.pt] [--triplets N] [--install]
# 1. renders data/corpus + data/corpus_heldout_sf (scripts/make-corpus.sh; resumes; waits for a
#    render already running), 2. collects data/real (scripts/prepare-real-music.sh; optional),
# 3. trains the foundation from scratch in data/train-default-foundation/, then the real-music
#    stage on it in data/train-default/ (checkpoints every 25 steps; re-run to resume; --init
#    skips the foundation), evaluates on the held-out sets and, with --install, writes
#    resources/models/default.pt, default.card.json and MODEL_CARD.md. Everything runs under `nice`.
set -euo pipefail
cd "$(dirname "$0")/.."
wait_for() {  # a render started by someone else: wait instead of racing it
  local pidfile="$1"
  while [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 30; done
}
wait_for data/make-corpus.pid
scripts/make-corpus.sh "${JOBS:-2}"
wait_for data/prepare-real-music.pid
scripts/prepare-real-music.sh --tempo || echo "train-default-model: no real music; track triplets from the corpus only" >&2
exec nice -n 10 .venv/bin/python -m model.recipe "$@"
