"""The autouse fixture really fails a test that leaves a worker running (checked in a child pytest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

LEAKY = '''
import threading, time
from app.services.workers import GeneratorWorker, Pools
from tests.app.services.harness import no_dangling_threads  # noqa: F401 (autouse fixture)

def sleepy():
    for _ in range(300):
        time.sleep(0.01)
        yield

def test_leaves_a_job_running(qapp):
    Pools().start("io", GeneratorWorker(sleepy))

def test_waits_for_its_job(qapp, qtbot):
    pools = Pools()
    worker = GeneratorWorker(sleepy)
    with qtbot.waitSignal(worker.signals.finished, timeout=10000):
        pools.start("io", worker)
    pools.wait(2000)
'''


def test_fixture_flags_a_leaked_worker_and_passes_a_clean_one(tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         str(tmp_path / "test_leaky.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert "test left threads busy on pools: ['io']" in out, out[-3000:]
    assert "2 passed, 1 error" in out, out[-3000:]  # the leaky test passes its body, errors at teardown
