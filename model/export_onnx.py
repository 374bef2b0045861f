"""``python -m model.export_onnx [MODEL.pt] [-o OUT.onnx]``: a model's network as ONNX.

Writes ``MODEL.onnx`` beside the model (default: the shipped ``resources/models/default.pt``)
for model.onnx_encoder, which embeds search queries without torch. Re-run it whenever the
model file changes (``make onnx``): the file records the model's id, and an ONNX file whose
id is not its model's is ignored (the app then uses torch).

The graph takes the log-mel input ``mel`` ``(batch, 1, 128, 129)`` and gives the network's
``embedding`` ``(batch, 256)``; batch norm is folded as in ``Encoder``. ONNX Runtime has no
FFT kernel worth using, so the tempo branch's autocorrelation is exported as DFT matrix
products (``dft_autocorrelation``: the same linear autocorrelation;
tests/model/test_onnx_encoder.py compares the embeddings with torch's).
The tag head, applied in numpy, travels in the metadata as JSON.

``export_checked`` is what the trainer calls after saving a model (model.train): it writes
the twin, compares its embeddings with torch's on a few windows (``twin_agreement``) and
never raises: a failure is logged and returned as a one-line note, and the model file stays
(searches with it then import torch, as before). Exporting needs the ``onnx`` package
besides torch: torch's TorchScript exporter loads its own output with it.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from model.atomic import atomic_path
from model.checkpoint import load_model
from model.device import first_line
from model.dimensions import lowest_block_agreement
from model.onnx_encoder import SOURCE_ID_KEY, TAG_HEAD_KEY, onnx_path

log = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "resources" / "models" / "default.pt"
OPSET = 17
MIN_AGREEMENT = 0.999  # block cosine, every window and block: the twin embeds as torch does


def dft_autocorrelation(length: int) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """``TempoBranch.autocorrelation`` for flux of ``length`` frames without an FFT op: the
    zero-padded real DFT and its inverse as three constant matrix products (the same linear
    autocorrelation, to float32 rounding). The earlier direct form (a gather of every shifted
    copy, then one product per lag) cost 6-7 % of the network's CPU; these products, ~1 %."""
    n = 2 * length
    frames, bins = np.arange(length)[:, None], np.arange(n // 2 + 1)[None, :]
    angle = 2 * np.pi * frames * bins / n
    cos, sin = (torch.from_numpy(m.astype(np.float32)) for m in (np.cos(angle), -np.sin(angle)))

    def autocorrelation(flux: torch.Tensor, n_lags: int) -> torch.Tensor:
        # irfft of the power spectrum: bins 1 .. n/2 - 1 stand for their mirror images too.
        lags = np.arange(n_lags)[None, :]
        weight = np.where((bins.T == 0) | (bins.T == n // 2), 1.0, 2.0) * np.cos(2 * np.pi * bins.T * lags / n) / n
        re, im = flux @ cos, flux @ sin
        return (re.square() + im.square()) @ torch.from_numpy(weight.astype(np.float32))

    return autocorrelation


def _tag_head_json(tags) -> str:  # noqa: ANN001 - model.tags.TagModel
    return json.dumps({
        "names": list(tags.names), "groups": list(tags.groups),
        "thresholds": tags.thresholds.tolist(),  # inf (uncalibrated) round-trips as Infinity
        **{key: getattr(tags, key).tolist() for key in ("w1", "b1", "w2", "b2")},
    })  # fmt: skip


def export(model_path: str | Path = DEFAULT_MODEL, out: str | Path | None = None) -> Path:
    """Write the ONNX file for ``model_path`` (atomically); returns its path."""
    import onnx  # torch's TorchScript exporter needs it too (it re-reads its own output)

    model_path = Path(model_path)
    out = Path(out) if out is not None else onnx_path(model_path)
    network, info = load_model(model_path, map_location="cpu")
    network = network.eval().fuse_for_inference()
    if network.tempo is not None:
        network.tempo.autocorrelation = dft_autocorrelation(info.dims.n_frames - 1)  # type: ignore[method-assign]
    example = torch.zeros(2, 1, info.dims.n_mels, info.dims.n_frames)
    meta = {SOURCE_ID_KEY: info.model_id}
    if info.tags is not None:
        meta[TAG_HEAD_KEY] = _tag_head_json(info.tags)
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            network, (example,), str(tmp), dynamo=False, opset_version=OPSET,
            input_names=["mel"], output_names=["embedding"],
            dynamic_axes={"mel": {0: "batch"}, "embedding": {0: "batch"}},
        )  # fmt: skip
        graph = onnx.load(str(tmp))
        for key, value in meta.items():
            graph.metadata_props.add(key=key, value=value)
        onnx.save(graph, str(tmp))
    return out


def twin_agreement(model_path: str | Path, seconds: float = 12.0, seed: int = 0) -> float:
    """The lowest block cosine between the ONNX twin's window embeddings and torch's (float32,
    CPU) for ``seconds`` of seeded noise; nan when the twin cannot stand in for the model."""
    from model.constants import SAMPLE_RATE
    from model.encoder import Encoder
    from model.onnx_encoder import load_onnx_encoder

    twin = load_onnx_encoder(model_path, threads=1)
    if twin is None:
        return float("nan")
    rng = np.random.default_rng(seed)
    audio = (0.1 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)
    expected = Encoder.load(model_path, device="cpu", precision="fp32").embed_samples(audio).windows
    got = twin.embed_samples(audio).windows
    if got.shape != expected.shape:
        return float("nan")
    return lowest_block_agreement(got, expected)


def export_checked(model_path: str | Path) -> str | None:
    """Write ``model_path``'s ONNX twin and check it against torch (``twin_agreement``);
    None when it will be used, else a one-line note for the user. Never raises: the model
    file is kept either way, and without its twin searches load torch (slower to start)."""
    model_path = Path(model_path)
    started = time.perf_counter()
    try:
        out = export(model_path)
        agreement = twin_agreement(model_path)
        if not agreement >= MIN_AGREEMENT:  # nan included
            raise ValueError(f"its embeddings differ from torch's (block cosine {agreement:.4f})")
    except Exception as exc:  # noqa: BLE001 - any failure: keep the model, search uses torch
        onnx_path(model_path).unlink(missing_ok=True)  # a twin not checked (the check failed too) is not used
        reason = first_line(exc)
        log.warning("no ONNX twin for %s (%s); searches with it will load torch", model_path, reason)
        return f"no fast-search (ONNX) copy of {model_path.name} ({reason}); searches with it start slower"
    log.info("wrote %s in %.1f s (block cosine %.4f)", out, time.perf_counter() - started, agreement)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL, help="model file (.pt)")
    parser.add_argument("-o", "--output", type=Path, help="ONNX file (default: beside the model)")
    args = parser.parse_args(argv)
    print(export(args.model, args.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
