"""A small Standard MIDI File (type 1) writer: enough for notes, programs, mixer CCs and tempo.

Hand-written rather than a dependency: the generator only ever writes, the format is tiny,
and byte-identical output from the same seed is easy to guarantee when we own the encoder.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

PPQ = 480  # ticks per quarter note
DRUM_CHANNEL = 9


@dataclass(frozen=True)
class Note:
    """One note: start and length in ticks, MIDI pitch, velocity 1..127."""

    tick: int
    duration: int
    pitch: int
    velocity: int


@dataclass
class Part:
    """One instrument on one channel with its mixer settings (0..127 CC values)."""

    name: str
    channel: int
    program: int
    notes: list[Note] = field(default_factory=list)
    bank: int = 0
    volume: int = 100
    pan: int = 64
    reverb: int = 40
    chorus: int = 0


def _varlen(value: int) -> bytes:
    """MIDI variable-length quantity."""
    value = max(0, int(value))
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack(">I", len(payload)) + payload


def _track(events: list[tuple[int, int, bytes]]) -> bytes:
    """Encode ``(tick, order, message)`` events as an MTrk chunk (sorted, delta times)."""
    events = sorted(events, key=lambda e: (e[0], e[1]))
    data = bytearray()
    last = 0
    for tick, _, message in events:
        data += _varlen(tick - last) + message
        last = tick
    data += _varlen(0) + b"\xff\x2f\x00"
    return _chunk(b"MTrk", bytes(data))


def _clamp(value: int, low: int = 0, high: int = 127) -> int:
    return max(low, min(high, int(value)))


def _part_events(part: Part) -> list[tuple[int, int, bytes]]:
    ch = part.channel & 0x0F
    name = part.name.encode("ascii", "replace")[:64]
    events: list[tuple[int, int, bytes]] = [
        (0, 0, b"\xff\x03" + _varlen(len(name)) + name),
        (0, 1, bytes([0xB0 | ch, 0, _clamp(part.bank)])),
        (0, 2, bytes([0xC0 | ch, _clamp(part.program)])),
        (0, 3, bytes([0xB0 | ch, 7, _clamp(part.volume)])),
        (0, 3, bytes([0xB0 | ch, 10, _clamp(part.pan)])),
        (0, 3, bytes([0xB0 | ch, 91, _clamp(part.reverb)])),
        (0, 3, bytes([0xB0 | ch, 93, _clamp(part.chorus)])),
    ]
    for note in part.notes:
        start = max(0, int(note.tick))
        end = start + max(1, int(note.duration))
        pitch = _clamp(note.pitch)
        # Note-offs sort before note-ons at the same tick so repeated pitches retrigger.
        events.append((start, 5, bytes([0x90 | ch, pitch, _clamp(note.velocity, 1)])))
        events.append((end, 4, bytes([0x80 | ch, pitch, 0])))
    return events


def encode_midi(
    parts: list[Part], bpm: float, beats_per_bar: int = 4, end_tick: int | None = None
) -> bytes:
    """The bytes of a type-1 SMF: a tempo track followed by one track per part."""
    tempo = int(round(60_000_000 / bpm))
    conductor = [
        (0, 0, b"\xff\x51\x03" + tempo.to_bytes(3, "big")),
        (0, 1, bytes([0xFF, 0x58, 0x04, beats_per_bar, 2, 24, 8])),
    ]
    if end_tick is not None:
        # A marker at the end keeps the file (and fluidsynth's render) at least this long.
        conductor.append((int(end_tick), 2, b"\xff\x06\x03end"))
    tracks = [_track(conductor)] + [_track(_part_events(p)) for p in parts]
    header = _chunk(b"MThd", struct.pack(">HHH", 1, len(tracks), PPQ))
    return header + b"".join(tracks)


def write_midi(path: str | Path, parts: list[Part], bpm: float, beats_per_bar: int = 4,
               end_tick: int | None = None) -> None:
    """Write :func:`encode_midi` output to ``path``."""
    Path(path).write_bytes(encode_midi(parts, bpm, beats_per_bar, end_tick))


def read_midi_summary(data: bytes) -> dict:
    """Parse an SMF just enough to check it: format, track count, PPQ, tempo, note-on count.

    Used by the tests (an independent reader, not the writer run backwards).
    """
    if data[:4] != b"MThd":
        raise ValueError("not a MIDI file")
    fmt, ntracks, ppq = struct.unpack(">HHH", data[8:14])
    pos = 8 + struct.unpack(">I", data[4:8])[0]
    tempo = None
    note_ons = 0
    programs: dict[int, int] = {}
    for _ in range(ntracks):
        if data[pos:pos + 4] != b"MTrk":
            raise ValueError("bad track chunk")
        length = struct.unpack(">I", data[pos + 4:pos + 8])[0]
        body, pos = data[pos + 8:pos + 8 + length], pos + 8 + length
        i, status = 0, 0
        while i < len(body):
            while body[i] & 0x80:  # delta time
                i += 1
            i += 1
            if body[i] & 0x80:
                status = body[i]
                i += 1
            if status == 0xFF:
                kind = body[i]
                j = i + 1
                length = 0
                while True:
                    length = (length << 7) | (body[j] & 0x7F)
                    j += 1
                    if not body[j - 1] & 0x80:
                        break
                if kind == 0x51:
                    tempo = int.from_bytes(body[j:j + 3], "big")
                i = j + length
            elif status >> 4 in (0xC, 0xD):
                if status >> 4 == 0xC:
                    programs[status & 0x0F] = body[i]
                i += 1
            else:
                if status >> 4 == 0x9 and body[i + 1] > 0:
                    note_ons += 1
                i += 2
    bpm = 60_000_000 / tempo if tempo else None
    return {"format": fmt, "tracks": ntracks, "ppq": ppq, "bpm": bpm, "note_ons": note_ons,
            "programs": programs}
