"""Real PortAudio playback on ALSA's null device (no sound card needed).

The child process gets a temporary HOME whose ~/.asoundrc makes ALSA's default PCM the
null sink, set before sounddevice (and so PortAudio) is loaded. The null sink consumes
audio as fast as the callback produces it, which makes the run short.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

CHILD = r"""
import json, time
import numpy as np
from app.core.player import Player, SAMPLE_RATE

player = Player()
out = {"available": player.available, "reason": player.reason,
       "devices": [d.name for d in player.output_devices()]}
ramp = np.arange(SAMPLE_RATE * 4, dtype=np.float32) / (SAMPLE_RATE * 4)  # 4 s
out["started"] = player.play(ramp, offset_s=1.5)
deadline = time.monotonic() + 5
while player.is_playing and time.monotonic() < deadline:
    time.sleep(0.01)
out["stats"] = player.stats()
out["position_s"] = player.position_s
out["still_playing"] = player.is_playing
player.seek(3.0)
out["resumed"] = player.resume()
time.sleep(0.05)
player.stop()
out["active_after_stop"] = player.stream_active
out["playing_after_stop"] = player.is_playing
# a file path goes through the decode cache (model/audio.py's decoder)
import soundfile as sf, tempfile, os
path = os.path.join(tempfile.mkdtemp(), "clip.wav")
sf.write(path, 0.1 * np.ones(SAMPLE_RATE * 2, np.float32), SAMPLE_RATE)
out["file_started"] = player.play(path, offset_s=1.0)
out["file_first_frame"] = None
deadline = time.monotonic() + 5
while player.stats()["first_frame"] is None and time.monotonic() < deadline:
    time.sleep(0.01)
out["file_first_frame"] = player.stats()["first_frame"]
player.stop()
print(json.dumps(out))
"""


@pytest.fixture
def null_alsa_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default { type null }\n")
    return home


def test_stream_starts_at_the_offset_and_stops_cleanly(null_alsa_home: Path) -> None:
    env = {**os.environ, "HOME": str(null_alsa_home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if not out["available"]:
        pytest.fail(f"PortAudio is not usable here: {out['reason']} (install libportaudio2)")
    assert out["started"] is True
    assert out["stats"]["first_frame"] == int(1.5 * 22050)  # first block read from the offset
    assert out["stats"]["callbacks"] > 0
    assert out["position_s"] == pytest.approx(4.0, abs=1e-3)  # played to the end, then stopped itself
    assert out["still_playing"] is False
    assert out["resumed"] is True  # seek back into the buffer, resume works
    assert out["active_after_stop"] is False and out["playing_after_stop"] is False
    assert out["file_started"] is True and out["file_first_frame"] == 22050
