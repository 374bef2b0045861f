"""Labeled synthetic music: procedural MIDI in 9 styles x 4 moods x 9 lead families at
60-180 BPM, rendered with GM soundfonts through fluidsynth (``python -m model.synth``).

Modules: theory (modes, chords, voicings), styles/drums/accomp (genre), moods, instruments,
melody, arrange (labels + seed -> MIDI parts), midi (SMF writer), render (fluidsynth + mix),
plan (independent, block-randomised labels), corpus (parallel resumable rendering).
"""
