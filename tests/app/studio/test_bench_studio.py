"""``soundalike bench studio`` at a tiny size: every figure of the catalog half is printed."""

from __future__ import annotations

import re

from app.benchmarks._postgres import server_url
from app.cli import main


def test_bench_studio_reports_sync_memory_and_latency(pg_socket, capsys) -> None:
    args = ["--db", server_url(pg_socket), "--tracks", "300", "--new", "40", "--queries", "5", "--skip-index"]
    assert main(["bench", "studio", *args]) == 0
    out = capsys.readouterr().out
    assert "300 simulated tracks loaded by COPY" in out
    took = r"[\d.]+ s \([\d.]+ CPU-s\)"
    assert re.search(rf"first sync: {took} for 300 tracks; client memory \d+ MiB resident", out)
    assert re.search(rf"sync with nothing new: {took}", out)
    assert re.search(rf"incremental sync of 40 new tracks: {took} the first, {took} the next \(380 tracks now;", out)
    assert re.search(rf"restart \(a new client reads the cache file, then syncs\): {took}", out)
    assert re.search(r"search replica \(windows and details, on disk\) \d+ MiB", out)
    assert re.search(r"5 queries: p50 [\d.]+ ms, p95 [\d.]+ ms \(load [\d.]+\); server reads during them: 0", out)
    assert re.search(r"the same tracks loaded into a local SQLite catalog \(the desktop default\): \d+ s \(\d+ CPU-s", out)
    assert re.search(rf"local SQLite catalog, same tracks: first load {took}, engine {took}; the same 5 queries, "
                     r"interleaved with the studio client's: p50 [\d.]+ ms, p95 [\d.]+ ms \(studio/local p95: [\d.]+, median of the per-query ratios: [\d.]+\)", out)
