"""The musicnn taggers (Pons & Serra 2019) ported to torch, as a training-time teacher.

MSD_musicnn predicts the 50 most common Last.fm tags of the Million Song Dataset (genre,
mood, era, vocals), MTT_musicnn 50 MagnaTagATune tags (instruments, voice, genre). Both
share one architecture (792 k parameters) and one front end; their weights are read
straight from the TF checkpoints inside the ``musicnn`` wheel (``tf_checkpoint``), so
the teacher needs neither TensorFlow nor converted weight files, only
``pip install --no-deps musicnn==0.1.0`` and ``resampy``.

Details copied exactly from musicnn, each of which moves outputs measurably:
- resampling to 16 kHz with resampy ``kaiser_best`` (what the models were trained on;
  soxr shifts averaged probabilities by up to 0.1);
- mel power (librosa: n_fft 512, hop 256, 96 Slaney bands, centred frames) rounded to
  float16, then log10(10000 * S + 1), the product taken in float32 (float16 overflows);
- 3-s segments of 187 frames, without overlap; a clip shorter than one segment is
  zero-padded (musicnn itself returns nothing for it);
- batch-norm epsilon 1e-3, batch norm *after* the ReLU, TF "same" padding (uneven for
  the even temporal kernels: one frame more after than before), and a backend that
  interleaves max and mean pooling per channel.

Training-only: the app never imports this module and the bundle leaves it out.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.training.teacher_tags import MSD_TAGS, MTT_TAGS
from model.training.tf_checkpoint import read_checkpoint

SAMPLE_RATE = 16000  # Hz
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
SEGMENT_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, hop_length=256, n_fft=512) + 1
SEGMENT_SECONDS = SEGMENT_FRAMES * HOP_LENGTH / SAMPLE_RATE  # 2.992 s between segment starts
BN_EPS = 1e-3  # TF's batch-norm default, not torch's 1e-5
MODELS: dict[str, tuple[str, ...]] = {"MSD_musicnn": MSD_TAGS, "MTT_musicnn": MTT_TAGS}

_TIMBRAL = ((7, 38), (7, 67))  # (frames, mel bands): int(0.4 * 96), int(0.7 * 96)
_TEMPORAL = (128, 64, 32)  # frames
_FRONT_FILTERS = (204, 51)  # int(1.6 * 128), int(1.6 * 32)
_MID_FILTERS = 64
_DENSE_UNITS = 200


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono float audio at ``rate`` -> 16 kHz with resampy ``kaiser_best`` (musicnn's training)."""
    import resampy  # a teacher-only dependency (the `teacher` extra), so imported here

    samples = np.asarray(samples, dtype=np.float32)
    if rate == SAMPLE_RATE:
        return samples
    return resampy.resample(samples, rate, SAMPLE_RATE, filter="kaiser_best").astype(np.float32)


def _mel_frames(padded: np.ndarray) -> np.ndarray:
    """Uncentred frames of already edge-padded 16 kHz audio -> (frames, 96) musicnn input."""
    mel = librosa.feature.melspectrogram(y=padded, sr=SAMPLE_RATE, hop_length=HOP_LENGTH,
                                         n_fft=N_FFT, n_mels=N_MELS, center=False).T
    return np.log10(10000.0 * mel.astype(np.float16).astype(np.float32) + 1.0)


def _edge_pad(samples: np.ndarray) -> np.ndarray:
    """librosa's centring (zeros, its 0.10 default) done once, so chunks can be framed exactly."""
    return np.pad(np.asarray(samples, dtype=np.float32), N_FFT // 2)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """16 kHz mono audio -> (frames, 96): log10(10000 * float16(mel power) + 1), centred frames.

    The product is taken in float32: in float16 (numpy 2's promotion) it overflows to inf.
    """
    return _mel_frames(_edge_pad(samples))


def segments(spectrogram: np.ndarray) -> np.ndarray:
    """(frames, 96) -> (n, 187, 96) consecutive non-overlapping 3-s patches (zero-padded if short).

    Trailing frames that do not fill a patch are dropped, as musicnn does.
    """
    frames = spectrogram.shape[0]
    if frames < SEGMENT_FRAMES:
        spectrogram = np.pad(spectrogram, ((0, SEGMENT_FRAMES - frames), (0, 0)))
        frames = SEGMENT_FRAMES
    count = frames // SEGMENT_FRAMES
    return spectrogram[:count * SEGMENT_FRAMES].reshape(count, SEGMENT_FRAMES, N_MELS)


def iter_patches(samples: np.ndarray, chunk_segments: int = 64) -> Iterator[np.ndarray]:
    """``segments(log_mel(samples))`` in chunks of up to ``chunk_segments`` patches.

    Long tracks never hold their whole spectrogram (or STFT) in memory; every chunk is framed
    from the same edge-padded signal, so the patches equal the unchunked ones exactly.
    """
    padded = _edge_pad(samples)
    count = (1 + len(samples) // HOP_LENGTH) // SEGMENT_FRAMES
    if count == 0:
        yield segments(_mel_frames(padded))
        return
    for first in range(0, count, chunk_segments):
        last = min(count, first + chunk_segments)
        begin = first * SEGMENT_FRAMES * HOP_LENGTH
        end = ((last * SEGMENT_FRAMES) - 1) * HOP_LENGTH + N_FFT
        yield segments(_mel_frames(padded[begin:end]))


def _same_pad(kernel: int) -> tuple[int, int]:
    """TF "same" padding for stride 1: the odd extra frame goes after, not before."""
    return (kernel - 1) // 2, kernel // 2


def _band_pool(conv_out: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """``bn(relu(conv_out)).amax(dim=3)`` (max over mel bands), pooling first.

    Eval-mode batch norm is a per-channel affine map and ReLU is monotonic, so the band
    maximum of the normalised output is the normalised band maximum where the BN scale is
    positive, and the normalised band *minimum* where it is negative. Pooling before the
    elementwise ops skips them on the (B, C, T, 96) tensor: 40 % of the network's time.
    """
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).view(1, -1, 1)
    low, high = torch.aminmax(conv_out, dim=3)
    picked = torch.where(scale >= 0, high, low)
    return F.batch_norm(F.relu(picked), bn.running_mean, bn.running_var, bn.weight, bn.bias,
                        training=False, eps=bn.eps)


class Musicnn(nn.Module):
    """musicnn's ``build_musicnn`` (7774timbraltemporal front end, dense mid end, pooled back end).

    Input (batch, 187, 96) log-mel patches; output (batch, num_tags) logits. Inference only:
    the front end pools before its batch norms (``_band_pool``), exact for eval-mode BN.
    """

    def __init__(self, num_tags: int = 50) -> None:
        super().__init__()
        timbral, temporal = _FRONT_FILTERS
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        self.timbral = nn.ModuleList(nn.Conv2d(1, timbral, k) for k in _TIMBRAL)
        self.timbral_bn = nn.ModuleList(nn.BatchNorm2d(timbral, eps=BN_EPS) for _ in _TIMBRAL)
        self.temporal = nn.ModuleList(nn.Conv2d(1, temporal, (k, 1)) for k in _TEMPORAL)
        self.temporal_bn = nn.ModuleList(nn.BatchNorm2d(temporal, eps=BN_EPS) for _ in _TEMPORAL)
        front = timbral * len(_TIMBRAL) + temporal * len(_TEMPORAL)  # 561
        self.mid = nn.ModuleList([nn.Conv1d(front, _MID_FILTERS, 7),
                                  nn.Conv1d(_MID_FILTERS, _MID_FILTERS, 7),
                                  nn.Conv1d(_MID_FILTERS, _MID_FILTERS, 7)])
        self.mid_bn = nn.ModuleList(nn.BatchNorm1d(_MID_FILTERS, eps=BN_EPS) for _ in range(3))
        pooled = 2 * (front + 3 * _MID_FILTERS)  # 1506: max and mean of 753 channels
        self.pool_bn = nn.BatchNorm1d(pooled, eps=BN_EPS)
        self.dense = nn.Linear(pooled, _DENSE_UNITS)
        self.dense_bn = nn.BatchNorm1d(_DENSE_UNITS, eps=BN_EPS)
        self.out = nn.Linear(_DENSE_UNITS, num_tags)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        x = self.input_bn(patches.unsqueeze(1))  # (B, 1, T, 96)
        front = []
        for conv, bn in zip(self.timbral, self.timbral_bn, strict=True):
            front.append(_band_pool(conv(F.pad(x, (0, 0, 3, 3))), bn))  # -> (B, C, T)
        for conv, bn, k in zip(self.temporal, self.temporal_bn, _TEMPORAL, strict=True):
            front.append(_band_pool(conv(F.pad(x, (0, 0, *_same_pad(k)))), bn))
        features = [torch.cat(front, dim=1)]  # (B, 561, T)
        h = features[0]
        for i, (conv, bn) in enumerate(zip(self.mid, self.mid_bn, strict=True)):
            y = bn(F.relu(conv(F.pad(h, (3, 3)))))
            h = y if i == 0 else y + h  # residual from the second layer on
            features.append(h)
        stacked = torch.cat(features, dim=1)  # (B, 753, T): dense connections
        pooled = torch.stack([stacked.amax(dim=2), stacked.mean(dim=2)], dim=2).flatten(1)
        hidden = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        return self.out(hidden)


def checkpoint_dir(model_name: str) -> Path:
    """The wheel's checkpoint folder for ``model_name``, found without importing musicnn (and TF)."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the teacher needs musicnn's weights: pip install --no-deps musicnn==0.1.0")
    return Path(next(iter(spec.submodule_search_locations))) / model_name


def _bn_state(tensors: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    return {"weight": tensors[f"{name}/gamma"], "bias": tensors[f"{name}/beta"],
            "running_mean": tensors[f"{name}/moving_mean"],
            "running_var": tensors[f"{name}/moving_variance"]}


def _conv_state(tensors: dict[str, np.ndarray], name: str, one_d: bool) -> dict[str, np.ndarray]:
    kernel = tensors[f"{name}/kernel"]  # TF (height, width, in, out)
    weight = kernel[:, :, 0, :].transpose(2, 1, 0) if one_d else kernel.transpose(3, 2, 0, 1)
    return {"weight": weight, "bias": tensors[f"{name}/bias"]}


def tf_state_dict(tensors: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map the TF variable names (creation order of musicnn's layers) onto ``Musicnn``'s."""
    layers: list[tuple[str, dict[str, np.ndarray]]] = [("input_bn", _bn_state(tensors, "batch_normalization"))]
    convs = [f"timbral.{i}" for i in range(2)] + [f"temporal.{i}" for i in range(3)] + [f"mid.{i}" for i in range(3)]
    bns = [f"timbral_bn.{i}" for i in range(2)] + [f"temporal_bn.{i}" for i in range(3)] + [f"mid_bn.{i}" for i in range(3)]
    for i, (conv, bn) in enumerate(zip(convs, bns, strict=True)):
        suffix = f"_{i}" if i else ""
        layers.append((conv, _conv_state(tensors, f"conv2d{suffix}", one_d=conv.startswith("mid"))))
        layers.append((bn, _bn_state(tensors, f"batch_normalization_{i + 1}")))
    layers += [("pool_bn", _bn_state(tensors, "batch_normalization_9")),
               ("dense", {"weight": tensors["dense/kernel"].T, "bias": tensors["dense/bias"]}),
               ("dense_bn", _bn_state(tensors, "batch_normalization_10")),
               ("out", {"weight": tensors["dense_1/kernel"].T, "bias": tensors["dense_1/bias"]})]
    return {f"{layer}.{key}": torch.from_numpy(np.ascontiguousarray(value))
            for layer, state in layers for key, value in state.items()}


def load_musicnn(model_name: str) -> Musicnn:
    """One of ``MODELS``, with its original weights, in eval mode."""
    tags = MODELS[model_name]
    network = Musicnn(num_tags=len(tags))
    state = tf_state_dict(read_checkpoint(str(checkpoint_dir(model_name)) + "/"))
    missing, unexpected = network.load_state_dict(state, strict=False)
    if unexpected or any(not key.endswith("num_batches_tracked") for key in missing):
        raise ValueError(f"{model_name}: weights do not fit the port ({missing}, {unexpected})")
    return network.eval()


class Teacher:
    """Both taggers behind one front end: audio -> per-segment tag probabilities."""

    def __init__(self, model_names: tuple[str, ...] = tuple(MODELS), batch_size: int = 64) -> None:
        self.networks = {name: load_musicnn(name) for name in model_names}
        self.batch_size = batch_size

    @torch.inference_mode()
    def probabilities(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        """(n, 187, 96) patches -> {model name: (n, 50) float32 sigmoid probabilities}."""
        out: dict[str, list[np.ndarray]] = {name: [] for name in self.networks}
        for start in range(0, len(patches), self.batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(patches[start:start + self.batch_size],
                                                          dtype=np.float32))
            for name, network in self.networks.items():
                out[name].append(torch.sigmoid(network(batch)).numpy())
        return {name: np.concatenate(chunks) for name, chunks in out.items()}

    def tag_audio(self, samples: np.ndarray, rate: int) -> dict[str, np.ndarray]:
        """Mono audio at any rate -> per-segment probabilities (see ``probabilities``)."""
        chunks = [self.probabilities(p) for p in iter_patches(resample(samples, rate))]
        return {name: np.concatenate([c[name] for c in chunks]) for name in self.networks}
