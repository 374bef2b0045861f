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
    assert re.search(r"first sync: [\d.]+ s for 300 tracks; client memory \d+ MiB resident", out)
    assert "incremental sync of 40 new tracks" in out and "(340 tracks now;" in out
    assert re.search(r"5 queries: p50 [\d.]+ ms, p95 [\d.]+ ms", out)
