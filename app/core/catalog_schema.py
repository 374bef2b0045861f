"""The catalog's SQLite schema and its migrations (``PRAGMA user_version``).

``MIGRATIONS[i]`` takes a catalog at schema version ``i`` to ``i + 1`` (0 = empty file);
app.core.catalog runs them in order, each in one transaction with foreign keys off (a
table rebuild must not cascade-delete the vectors that reference it).

Version history:
1. tracks (path TEXT), embeddings (vectors per model), meta.
2. ``path`` is a BLOB holding the OS's bytes (``os.fsencode``), so any file name the OS
   allows is stored losslessly (v1 could not store a Latin-1 name and aborted the run);
   ``fingerprint`` identifies the content (app.core.fingerprint), so a moved or copied
   file keeps its vectors; status ``missing`` keeps the vectors of a file that vanished.
   Migrated rows get their fingerprint on the next index run.
3. BPM and loudness measured from the audio at index time: ``loudness_lufs``, and
   ``bpm_source`` ('audio', 'tag' or '' for none) saying where ``bpm`` (the BPM the app
   shows and filters on) came from: measured when the audio gives one, else the tag's.
4. A change counter for local vector caches (app.core.vector_cache): ``meta.catalog_id`` (a
   random id: a catalog file replaced by another is told apart), ``meta.change_counter``,
   ``tracks.rev`` (the counter value of the row's last change) and ``removed`` (tombstones:
   deleted track ids with the counter of their deletion). Triggers keep them, so every
   write path (and any future one) is counted: any change to a track row or its vectors
   bumps the counter and stamps the row; a deletion leaves a tombstone.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 4
# The oldest schema this build reads as it is: a read-only catalog cannot be migrated, and
# schema 3 lacks only the change counter (its vector cache is then not used).
READABLE_FROM = 3

_V0_TO_V1 = """
CREATE TABLE tracks (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    duration_s  REAL,
    title       TEXT NOT NULL DEFAULT '',
    artist      TEXT NOT NULL DEFAULT '',
    album       TEXT NOT NULL DEFAULT '',
    genre       TEXT NOT NULL DEFAULT '',
    mood        TEXT NOT NULL DEFAULT '',
    bpm         REAL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'error')),
    error       TEXT NOT NULL DEFAULT '',
    model_id    TEXT,
    updated_at  REAL NOT NULL
);
CREATE INDEX tracks_status ON tracks(status);
CREATE TABLE embeddings (
    track_id    INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    model_id    TEXT NOT NULL,
    n_windows   INTEGER NOT NULL,
    padded      INTEGER NOT NULL,
    track       BLOB NOT NULL,
    windows     BLOB NOT NULL
);
CREATE INDEX embeddings_model ON embeddings(model_id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_COPIED_COLUMNS = (
    "id, size, mtime_ns, duration_s, title, artist, album, genre, mood, bpm, status, error, "
    "model_id, updated_at"
)

# SQLite's table rebuild recipe (https://sqlite.org/lang_altertable.html#otheralter): a
# column's type and a CHECK cannot be altered in place. v1 paths were valid UTF-8 text, so
# CAST(path AS BLOB) is exactly os.fsencode(path) on the UTF-8 file systems v1 ran on.
_V1_TO_V2 = f"""
CREATE TABLE tracks_v2 (
    id          INTEGER PRIMARY KEY,
    path        BLOB NOT NULL UNIQUE,
    fingerprint TEXT,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    duration_s  REAL,
    title       TEXT NOT NULL DEFAULT '',
    artist      TEXT NOT NULL DEFAULT '',
    album       TEXT NOT NULL DEFAULT '',
    genre       TEXT NOT NULL DEFAULT '',
    mood        TEXT NOT NULL DEFAULT '',
    bpm         REAL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'ok', 'error', 'missing')),
    error       TEXT NOT NULL DEFAULT '',
    model_id    TEXT,
    updated_at  REAL NOT NULL
);
INSERT INTO tracks_v2(path, {_COPIED_COLUMNS})
    SELECT CAST(path AS BLOB), {_COPIED_COLUMNS} FROM tracks;
DROP TABLE tracks;
ALTER TABLE tracks_v2 RENAME TO tracks;
CREATE INDEX tracks_status ON tracks(status);
CREATE INDEX tracks_fingerprint ON tracks(fingerprint);
"""

_V2_TO_V3 = """
ALTER TABLE tracks ADD COLUMN loudness_lufs REAL;
ALTER TABLE tracks ADD COLUMN bpm_source TEXT NOT NULL DEFAULT '';
UPDATE tracks SET bpm_source = 'tag' WHERE bpm IS NOT NULL;
"""

_BUMP = "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'change_counter';"
_NOW = "(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'change_counter')"

# The WHEN clauses keep a trigger's own stamping (which changes rev) from counting again.
_V3_TO_V4 = f"""
ALTER TABLE tracks ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tracks_rev ON tracks(rev);
CREATE TABLE removed (track_id INTEGER PRIMARY KEY, rev INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('catalog_id', lower(hex(randomblob(16))));
INSERT OR IGNORE INTO meta(key, value) VALUES('change_counter', '0');
CREATE TRIGGER tracks_counted_insert AFTER INSERT ON tracks BEGIN
    {_BUMP}
    UPDATE tracks SET rev = {_NOW} WHERE id = NEW.id;
    DELETE FROM removed WHERE track_id = NEW.id;
END;
CREATE TRIGGER tracks_counted_update AFTER UPDATE ON tracks WHEN NEW.rev = OLD.rev BEGIN
    {_BUMP}
    UPDATE tracks SET rev = {_NOW} WHERE id = NEW.id;
END;
CREATE TRIGGER tracks_counted_delete AFTER DELETE ON tracks BEGIN
    {_BUMP}
    INSERT INTO removed(track_id, rev) VALUES(OLD.id, {_NOW})
        ON CONFLICT(track_id) DO UPDATE SET rev = excluded.rev;
END;
CREATE TRIGGER embeddings_counted_insert AFTER INSERT ON embeddings BEGIN
    {_BUMP}
    UPDATE tracks SET rev = {_NOW} WHERE id = NEW.track_id;
END;
CREATE TRIGGER embeddings_counted_update AFTER UPDATE ON embeddings BEGIN
    {_BUMP}
    UPDATE tracks SET rev = {_NOW} WHERE id = NEW.track_id;
END;
CREATE TRIGGER embeddings_counted_delete AFTER DELETE ON embeddings BEGIN
    {_BUMP}
    UPDATE tracks SET rev = {_NOW} WHERE id = OLD.track_id;
END;
"""

MIGRATIONS: dict[int, str] = {0: _V0_TO_V1, 1: _V1_TO_V2, 2: _V2_TO_V3, 3: _V3_TO_V4}


def statements(script: str) -> list[str]:
    """``script`` cut into complete SQL statements (a trigger's body holds ``;`` too)."""
    out, buffer = [], ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                out.append(buffer.strip())
            buffer = ""
    return out
