"""The dependency direction model <- app.core <- app.services <- app.ui is checked by import-linter."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is part of the dev extra"
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_types_agree_with_model_dimensions() -> None:
    from app.core.types import DIMENSIONS as CORE_DIMENSIONS
    from model.dimensions import DIMENSIONS as MODEL_DIMENSIONS

    assert CORE_DIMENSIONS == MODEL_DIMENSIONS


def test_services_use_qtcore_only() -> None:
    """import-linter cannot forbid subpackages of an external package, so scan the source."""
    import ast

    offenders = []
    for path in (ROOT / "app" / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if name.startswith(("PySide6.QtWidgets", "PySide6.QtGui"))
            ]
    assert not offenders, offenders


def test_ui_takes_only_value_types_from_the_core() -> None:
    """House rule 4: app.ui imports app.services and app.core.types, no other core module
    (import-linter's layers contract allows any lower layer, so scan the source)."""
    import ast

    offenders = []
    for path in (ROOT / "app" / "ui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if (name == "app.core" or name.startswith("app.core.")) and name != "app.core.types"
            ]
    assert not offenders, offenders
