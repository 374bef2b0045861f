"""The paper's Inception conditional similarity network (Lee et al. 2020, section 3.2).

Input: ``(B, 1, 128, 129)`` z-scored log-mel. Layout (default ``ModelDims``):

    stem    5x5 conv, 64 filters, BN, ReLU, 2x2 max-pool          -> 64 x 64 x 64
    block i (i = 1..6): naive inception, stride 2                  (spatial / 2)
                        inception with 1x1 reductions              -> widths[i] channels
    global average pool, linear to 256, L2-normalise               -> (B, 256)

Variant (``tempo_lags > 0``, the default since the third recipe stage): a tempo branch adds
periodicity features to the tempo block before the normalisation. The paper's layout alone
learned onset density but not beat period on our data (tempo triplets .54 after 15 epochs;
a linear probe of its pooled features explained 20 % of log-BPM variance), while the
autocorrelation of spectral flux, the beat trackers' starting point, scores .81 on the same
triplets with no learning at all. ``tempo_lags = 0`` is the paper's network exactly; model
files written before the branch existed load as that.

Six stride-2 blocks take the 64 x 64 stem output to 1 x 1. The naive module is GoogLeNet's
Fig. 2a (parallel 1x1, 3x3, 5x5 convs and a 3x3 max-pool, concatenated); the second module
is Fig. 2b with GoogLeNet 3a's branch ratios (1/4, 1/2, 1/8, 1/8 of its output). Every conv
is followed by batch norm and ReLU. Embedding columns ``[64 d, 64 d + 64)`` belong to
dimension ``d`` (fixed disjoint masks, ``model.dimensions``).

``ModelDims`` holds every width so smaller or larger variants are one dataclass away; it is
stored in the model file. ``count_flops`` reports the cost per window.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from model.audio import N_FRAMES, N_MELS
from model.dimensions import BLOCK_SIZE, EMBEDDING_SIZE, block_slice


@dataclass(frozen=True)
class ModelDims:
    """Architecture hyper-parameters (saved in the model file as ``asdict(dims)``)."""

    n_mels: int = N_MELS
    n_frames: int = N_FRAMES
    stem_channels: int = 64
    widths: tuple[int, ...] = (64, 96, 128, 160, 192, 256)  # output of each block
    embedding_size: int = EMBEDDING_SIZE
    tempo_lags: int = 96  # autocorrelation lags seen by the tempo branch (0: no branch)

    @classmethod
    def from_dict(cls, stored: dict) -> ModelDims:
        """Dims as saved by ``asdict``; files from before the tempo branch have no
        ``tempo_lags`` key and are the paper's network, so a missing key means 0."""
        return cls(**{"tempo_lags": 0, **stored})

    def __post_init__(self) -> None:
        # asdict() -> torch.save -> load turns tuples into lists; normalise for equality.
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if any(w % 8 for w in self.widths):
            raise ValueError("every width must be a multiple of 8 (inception branch split)")


class ConvBNReLU(nn.Module):
    """Conv, batch norm, ReLU; ``fuse()`` folds the norm into the conv for inference."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False)
        self.bn: nn.Module = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)

    @torch.no_grad()
    def fuse(self) -> None:
        """Fold eval-mode BN into the conv's weight and bias (same outputs, one op fewer)."""
        if not isinstance(self.bn, nn.BatchNorm2d):
            return
        self.conv = torch.nn.utils.fusion.fuse_conv_bn_eval(self.conv, self.bn)
        self.bn = nn.Identity()


class NaiveInception(nn.Module):
    """GoogLeNet Fig. 2a with stride 2: 1x1, 3x3, 5x5 convs and a 3x3 max-pool in parallel."""

    def __init__(self, c_in: int, branch: int) -> None:
        super().__init__()
        self.b1 = ConvBNReLU(c_in, branch, 1, stride=2)
        self.b3 = ConvBNReLU(c_in, branch, 3, stride=2)
        self.b5 = ConvBNReLU(c_in, branch, 5, stride=2)
        self.out_channels = 3 * branch + c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = F.max_pool2d(x, 3, stride=2, padding=1)
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), pool], dim=1)


class Inception(nn.Module):
    """GoogLeNet Fig. 2b: 1x1 | 1x1->3x3 | 1x1->5x5 | pool->1x1, concatenated to ``c_out``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        q, e = c_out // 4, c_out // 8
        self.b1 = ConvBNReLU(c_in, q, 1)
        self.b3 = nn.Sequential(ConvBNReLU(c_in, 3 * e, 1), ConvBNReLU(3 * e, 2 * q, 3))
        self.b5 = nn.Sequential(ConvBNReLU(c_in, e // 2 or 1, 1), ConvBNReLU(e // 2 or 1, e, 5))
        self.bp = ConvBNReLU(c_in, c_out - q - 2 * q - e, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(pool)], dim=1)


class TempoBranch(nn.Module):
    """Log-mel -> a correction for the tempo block, from the beat periodicity of the window.

    Spectral flux (half-wave rectified frame difference) is averaged within ``BANDS``
    mel bands, and each band's autocorrelation at lags ``2 .. lags + 1`` frames (about
    0.05-2.2 s, beat periods of 27-1300 BPM for the default 96) is normalised by its lag-0
    value (loudness-free) and by the number of overlapping frames (unbiased). A small MLP
    maps the lag profile to a 64-d vector. Always float32: the FFT and the normalisation
    are too coarse in bf16, and the cost (~0.1 MFLOP) is negligible.
    """

    BANDS = 4
    HIDDEN = 256
    FIRST_LAG = 2  # lags 0-1 say only how smooth the flux is

    def __init__(self, n_mels: int, n_frames: int, lags: int, out: int) -> None:
        super().__init__()
        if n_mels % self.BANDS or not 0 < lags <= n_frames - 1 - self.FIRST_LAG:
            raise ValueError(f"tempo branch needs n_mels divisible by {self.BANDS} and 0 < lags < n_frames - 2")
        self.lags = lags
        self.mlp = nn.Sequential(
            nn.Linear(self.BANDS * lags, self.HIDDEN), nn.ReLU(inplace=True),
            nn.Linear(self.HIDDEN, self.HIDDEN), nn.ReLU(inplace=True),
            nn.Linear(self.HIDDEN, out),
        )  # fmt: skip

    def periodicity(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, n_mels, T)`` -> ``(B, BANDS, lags)`` normalised flux autocorrelation."""
        b, _, n_mels, _ = x.shape
        flux = F.relu(x[:, 0, :, 1:] - x[:, 0, :, :-1])  # (B, n_mels, T - 1)
        flux = flux.reshape(b, self.BANDS, n_mels // self.BANDS, -1).mean(dim=2)
        flux = flux - flux.mean(dim=-1, keepdim=True)
        length = flux.shape[-1]
        acf = self.autocorrelation(flux, self.FIRST_LAG + self.lags)
        lags = torch.arange(acf.shape[-1], device=x.device, dtype=acf.dtype)
        acf = acf * (length / (length - lags)) / (acf[..., :1] + 1e-6)
        return acf[..., self.FIRST_LAG :]

    @staticmethod
    def autocorrelation(flux: torch.Tensor, n_lags: int) -> torch.Tensor:
        """Linear autocorrelation of the last axis at lags ``0 .. n_lags - 1``, by FFT
        (zero-padded to twice the length: no wrap-around). model.export_onnx swaps in a
        direct form, since ONNX export has no FFT."""
        length = flux.shape[-1]
        spectrum = torch.fft.rfft(flux, n=2 * length)
        return torch.fft.irfft(spectrum.real.square() + spectrum.imag.square(), n=2 * length)[..., :n_lags]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return self.mlp(self.periodicity(x.float()).flatten(1))


class CSNInception(nn.Module):
    """``(B, 1, n_mels, n_frames)`` log-mel -> ``(B, embedding_size)`` L2-normalised embedding."""

    def __init__(self, dims: ModelDims) -> None:
        super().__init__()
        self.dims = dims
        self.stem = ConvBNReLU(1, dims.stem_channels, 5)
        blocks: list[nn.Module] = []
        channels = dims.stem_channels
        for width in dims.widths:
            naive = NaiveInception(channels, width // 4)
            blocks += [naive, Inception(naive.out_channels, width)]
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, dims.embedding_size)
        self.tempo_block = block_slice("tempo")
        self.tempo = (
            TempoBranch(dims.n_mels, dims.n_frames, dims.tempo_lags, BLOCK_SIZE) if dims.tempo_lags else None
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled convolutional features before the linear head, ``(B, widths[-1])``."""
        x = F.max_pool2d(self.stem(x), 2)
        return torch.flatten(F.adaptive_avg_pool2d(self.blocks(x), 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        # The head and the normalisation run in float32 even under autocast: the final
        # projection decides cosine similarities, where bf16's 8-bit mantissa shows.
        with torch.autocast(x.device.type, enabled=False):
            embedding = self.head(features.float())
            if self.tempo is not None:
                start, stop = self.tempo_block.start, self.tempo_block.stop
                tempo = embedding[:, start:stop] + self.tempo(x)
                embedding = torch.cat([embedding[:, :start], tempo, embedding[:, stop:]], dim=1)
            return F.normalize(embedding, dim=1)

    def fuse_for_inference(self) -> CSNInception:
        """Fold every batch norm into its conv (eval mode only); returns self."""
        if self.training:
            raise RuntimeError("fuse_for_inference() needs eval mode (BN running statistics)")
        for module in self.modules():
            if isinstance(module, ConvBNReLU):
                module.fuse()
        return self


def parameter_count(network: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in network.parameters() if p.requires_grad)


def count_flops(network: CSNInception) -> int:
    """Floating-point operations (multiply and add counted separately) for one window.

    Counts convolutions and the linear head (everything else is < 1 %), by running one
    zero window through the network with forward hooks.
    """
    total = 0

    def conv_hook(module: nn.Conv2d, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += 2 * output[0].numel() * (module.in_channels // module.groups) * kh * kw

    def linear_hook(module: nn.Linear, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        total += 2 * output[0].numel() * module.in_features

    hooks = []
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(linear_hook))
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            network(torch.zeros(1, 1, network.dims.n_mels, network.dims.n_frames))
    finally:
        network.train(was_training)
        for hook in hooks:
            hook.remove()
    return total
