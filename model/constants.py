"""The facts the app's light side shares with the model, with no imports at all.

The GUI's import graph may not reach the rest of ``model`` (torch, soundfile), but the
dimension names and the decode rate must not be written twice: ``app.core.types``,
``app.core.waveform`` and ``app.core.player`` import them from here, as do
``model.dimensions`` and ``model.audio`` (import-linter allows exactly these edges).
"""

SAMPLE_RATE = 22050  # Hz: every file is decoded and resampled to this
DIMENSIONS: tuple[str, ...] = ("genre", "mood", "instrument", "tempo")  # embedding block order
