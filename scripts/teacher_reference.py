"""Run the ORIGINAL musicnn (TensorFlow) on the port test's clips and store its outputs.

Run once, in a separate venv with TensorFlow (never in the project's):
    python3 -m venv data/tfvenv
    data/tfvenv/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" resampy librosa soundfile
    data/tfvenv/bin/pip install --no-deps musicnn==0.1.0
    data/tfvenv/bin/python scripts/teacher_reference.py tests/model/training/fixtures/musicnn_reference.npz

It calls musicnn's own ``extractor`` (its graph, its checkpoint restore, its ``batch_data``
front end, 3-s patches without overlap) with one change: ``librosa.load`` resamples with
resampy ``kaiser_best``, librosa 0.6's default and what the models were trained on.
"""

from __future__ import annotations

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


if __name__ == "__main__":
    main(sys.argv[1])
