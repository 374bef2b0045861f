#!/usr/bin/env bash
# Tags every real track and synthetic clip that exists now with the musicnn teacher, per 3-s
# segment, into data/teacher/<corpus>/ (resumable: cached files are skipped; re-run it to pick
# up new manifest rows and newly rendered clips). Real music first, then the synthetic corpora.
#   scripts/tag-corpus.sh [--max-minutes M]   (M per corpus and run; needs `make teacher`:
#                                               resampy + the musicnn wheel's weights)
set -euo pipefail
cd "$(dirname "$0")/.."
corpora=(real:data/real/manifest.csv corpus:data/corpus/labels.csv
         corpus_heldout_sf:data/corpus_heldout_sf/labels.csv)
for entry in "${corpora[@]}"; do
  name="${entry%%:*}" manifest="${entry#*:}"
  if [ -f "$manifest" ]; then
    .venv/bin/python -m model.training.tag_corpus --manifest "$manifest" --out "data/teacher/$name" "$@"
  else
    echo "tag-corpus: $manifest does not exist yet; skipped" >&2
  fi
done
