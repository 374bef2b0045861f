"""Render MIDI to audio with the fluidsynth CLI, then vary the "mix" in numpy and encode.

Rendering with several soundfonts, random reverb/chorus, random EQ and level is what makes
the model learn music rather than one renderer's fingerprint. The fluidsynth CLI (not the
Python bindings) keeps the dependency a Debian package and makes each render a separate
process, which is also what lets the corpus renderer run several in parallel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

RENDER_RATE = 22050


class RenderError(RuntimeError):
    """fluidsynth is missing or failed; str(e) is a one-line reason."""


@dataclass(frozen=True)
class MixSettings:
    """Renderer and post-processing settings for one clip (sampled from its seed)."""

    gain: float
    reverb_room: float
    reverb_damp: float
    reverb_width: float
    reverb_level: float
    chorus_level: float
    chorus_depth: float
    highpass_hz: float
    lowpass_hz: float  # 0 = no low-pass
    tilt_db: float  # + brighter, - darker (a first-order shelf around 1 kHz)
    loudness_db: float  # target RMS in dBFS


def sample_mix(seed: int) -> MixSettings:
    """Mix settings drawn from the clip seed (independent of all labels)."""
    rng = np.random.default_rng([seed, 2])
    return MixSettings(
        gain=float(rng.uniform(0.35, 0.6)),
        reverb_room=float(rng.uniform(0.1, 0.9)),
        reverb_damp=float(rng.uniform(0.0, 0.8)),
        reverb_width=float(rng.uniform(0.3, 1.0)),
        reverb_level=float(rng.uniform(0.2, 0.9)),
        chorus_level=float(rng.uniform(0.0, 2.0)),
        chorus_depth=float(rng.uniform(2.0, 12.0)),
        highpass_hz=float(rng.uniform(20.0, 140.0)),
        lowpass_hz=float(rng.choice([0.0, rng.uniform(4500.0, 10000.0)])),
        tilt_db=float(rng.uniform(-5.0, 5.0)),
        loudness_db=float(rng.uniform(-26.0, -17.0)),
    )


def fluidsynth_command(midi: Path, wav: Path, soundfont: Path, mix: MixSettings,
                       rate: int = RENDER_RATE) -> list[str]:
    """The fluidsynth CLI call that renders ``midi`` to ``wav`` offline."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise RenderError("fluidsynth is not installed (Debian: apt-get install fluidsynth)")
    opts = {
        "synth.reverb.room-size": f"{mix.reverb_room:.3f}",
        "synth.reverb.damp": f"{mix.reverb_damp:.3f}",
        "synth.reverb.width": f"{mix.reverb_width * 100:.1f}",
        "synth.reverb.level": f"{mix.reverb_level:.3f}",
        "synth.chorus.level": f"{mix.chorus_level:.3f}",
        "synth.chorus.depth": f"{mix.chorus_depth:.2f}",
        "synth.cpu-cores": "1",
    }
    cmd = [exe, "-ni", "-q", "-g", f"{mix.gain:.3f}", "-r", str(rate), "-F", str(wav),
           "-T", "wav", "-O", "float"]
    for key, value in opts.items():
        cmd += ["-o", f"{key}={value}"]
    return cmd + [str(soundfont), str(midi)]


def run_fluidsynth(midi: Path, soundfont: Path, mix: MixSettings, rate: int = RENDER_RATE,
                   timeout_s: float = 300.0) -> np.ndarray:
    """Render ``midi`` and return ``(n, 2)`` float32 stereo at ``rate``."""
    with tempfile.TemporaryDirectory(prefix="synth-") as tmp:
        wav = Path(tmp) / "out.wav"
        cmd = fluidsynth_command(midi, wav, soundfont, mix, rate)
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False,
                                  env={**os.environ, "LC_ALL": "C"})
        except subprocess.TimeoutExpired as exc:
            raise RenderError(f"fluidsynth timed out after {timeout_s:.0f} s") from exc
        if proc.returncode != 0 or not wav.exists():
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise RenderError(f"fluidsynth failed ({proc.returncode}): {tail[0]}")
        audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    if sr != rate:
        raise RenderError(f"fluidsynth wrote {sr} Hz, expected {rate}")
    return audio


def post_process(stereo: np.ndarray, mix: MixSettings, offset_s: float, seconds: float,
                 rate: int = RENDER_RATE, mono: bool = True) -> np.ndarray:
    """Crop the labelled excerpt, apply EQ and loudness, soft-limit; float32 out."""
    start = int(round(offset_s * rate))
    length = int(round(seconds * rate))
    audio = stereo[start:start + length]
    if len(audio) < length:
        audio = np.pad(audio, ((0, length - len(audio)), (0, 0)))
    if mono:
        audio = audio.mean(axis=1, keepdims=True)
    nyquist = rate / 2
    sos = [signal.butter(2, mix.highpass_hz / nyquist, "highpass", output="sos")]
    if mix.lowpass_hz > 0:
        sos.append(signal.butter(2, min(mix.lowpass_hz, 0.95 * nyquist) / nyquist, "lowpass",
                                 output="sos"))
    for s in sos:
        audio = signal.sosfilt(s, audio, axis=0)
    # Tilt: add or subtract a high-passed copy (a gentle shelf above ~1 kHz).
    high = signal.sosfilt(signal.butter(1, 1000 / nyquist, "highpass", output="sos"),
                          audio, axis=0)
    audio = audio + (10 ** (mix.tilt_db / 20) - 1.0) * high
    rms = float(np.sqrt(np.mean(audio**2)))
    if rms > 1e-6:
        audio = audio * (10 ** (mix.loudness_db / 20) / rms)
    # Soft limiter: linear for quiet samples, never past 0.9 (Vorbis overshoots a little).
    audio = 0.9 * np.tanh(audio / 0.9)
    fade = min(len(audio), int(0.02 * rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float64)[:, None]
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
    out = audio.astype(np.float32)
    return out[:, 0] if mono else out


def write_ogg(path: Path, audio: np.ndarray, rate: int = RENDER_RATE,
              quality: float = 0.35) -> None:
    """Encode Vorbis atomically (write a temporary file, then rename into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.part.ogg")
    # soundfile's compression_level is 0 (best quality) .. 1 (smallest).
    sf.write(tmp, audio, rate, format="OGG", subtype="VORBIS", compression_level=quality)
    os.replace(tmp, path)
