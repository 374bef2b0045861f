"""The console script's cheap paths: version and help work without heavy imports."""

import subprocess
import sys

import pytest

from app import __version__
from app.cli import main


def test_version_prints_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_version_does_not_import_torch() -> None:
    code = (
        "import sys; from app.cli import main\n"
        "try: main(['--version'])\n"
        "except SystemExit: pass\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")


def test_unknown_command_is_an_argument_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_a_file_argument_opens_the_app_with_it_as_the_query(tmp_path, monkeypatch) -> None:
    import app.__main__ as entry
    import app.ui.application as application

    seen = {}
    monkeypatch.setattr(application, "run_gui", lambda args, build, clip=None: seen.setdefault("clip", clip) and 0)
    clip = tmp_path / "temp track.wav"
    clip.write_bytes(b"RIFF")
    monkeypatch.chdir(tmp_path)
    entry.main(["temp track.wav"])
    assert seen["clip"] == str(clip)
