"""Run the ORIGINAL musicnn (TensorFlow) on the port test's clips and store its outputs.

Run once, in a separate venv with TensorFlow (never in the project's):
    python3 -m venv data/tfvenv
    data/tfvenv/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" resampy librosa soundfile
    data/tfvenv/bin/pip install --no-deps musicnn==0.1.0
    data/tfvenv/bin/python scripts/teacher_reference.py tests/model/training/fixtures/musicnn_reference.npz
    data/tfvenv/bin/python scripts/teacher_reference.py --against-cache data/corpus/labels.csv \
        data/teacher/corpus 20     # the port's cached tags of 20 files vs the original's

It calls musicnn's own ``extractor`` (its graph, its checkpoint restore, its ``batch_data``
front end, 3-s patches without overlap) with one change: ``librosa.load`` resamples with
resampy ``kaiser_best``, librosa 0.6's default and what the models were trained on.
"""

from __future__ import annotations

import csv
import functools
import sys
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "model" / "training"))
import teacher_clips  # noqa: E402

librosa.load = functools.partial(librosa.load, res_type="kaiser_best")
from musicnn.extractor import extractor  # noqa: E402  (imports TensorFlow)


def main(out: str) -> None:
    arrays: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in teacher_clips.NAMES:
            path = Path(tmp) / f"{name}.wav"
            sf.write(path, teacher_clips.clip(name), teacher_clips.RATE, subtype="FLOAT")
            for model in ("MSD_musicnn", "MTT_musicnn"):
                taggram, _ = extractor(str(path), model=model, input_length=3, extract_features=False)
                arrays[f"{model}/{name}"] = np.asarray(taggram, dtype=np.float32)
    arrays["versions"] = np.array([f"librosa {librosa.__version__}", f"numpy {np.__version__}"])
    np.savez_compressed(out, **arrays)
    print({k: v.shape for k, v in arrays.items()})


def against_cache(manifest: str, cache: str, count: int) -> None:
    """Largest difference between the original's tags and ``tag_corpus``'s cache, per model."""
    with open(manifest, newline="", encoding="utf-8") as handle:
        paths = [Path(row["path"]) for row in csv.DictReader(handle)]
    cached = [p for p in paths if (Path(cache) / p.with_suffix(".npz")).exists()][:count]
    worst = {"MSD_musicnn": 0.0, "MTT_musicnn": 0.0}
    segments = 0
    for path in cached:
        ours = np.load(Path(cache) / path.with_suffix(".npz"))
        for model, key in (("MSD_musicnn", "msd"), ("MTT_musicnn", "mtt")):
            taggram, _ = extractor(str(Path(manifest).parent / path), model=model, input_length=3,
                                   extract_features=False)
            worst[model] = max(worst[model], float(np.abs(ours[key] - taggram).max()))
        segments += len(ours["msd"])
    print(f"{len(cached)} files, {segments} segments: max |port - original| {worst}")


if __name__ == "__main__":
    if sys.argv[1] == "--against-cache":
        against_cache(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main(sys.argv[1])
