#!/usr/bin/env bash
# Tags every real track and synthetic clip that exists now with the musicnn teacher, per 3-s
# segment, into data/teacher/<corpus>/ (resumable: cached files are skipped; re-run it to pick
# up new manifest rows and newly rendered clips). Real music first, then the synthetic corpora.
#   scripts/tag-corpus.sh [--max-minutes M]   (M per corpus and run; needs `make teacher`:
#                                               resampy + the musicnn wheel's weights)
set -euo pipefail
cd "$(dirname "$0")/.."
tag_real() { .venv/bin/python -m model.training.tag_corpus --scan data/real --out data/teacher/real "$@"; }
# Real music first: every file converted so far (its manifest is written only when all packages
# are), again and again while the conversion adds files and each run makes progress.
if [ -d data/real ]; then
  pending=$(tag_real --count-only)
  while [ "$pending" -gt 0 ]; do
    tag_real "$@"
    before=$pending pending=$(tag_real --count-only)
    [ "$pending" -ne "$before" ] || break
  done
else
  echo "tag-corpus: data/real does not exist yet; skipped" >&2
fi
for name in corpus corpus_heldout_sf; do
  manifest="data/$name/labels.csv"
  if [ -f "$manifest" ]; then
    .venv/bin/python -m model.training.tag_corpus --manifest "$manifest" --out "data/teacher/$name" "$@"
  else
    echo "tag-corpus: $manifest does not exist yet; skipped" >&2
  fi
done
