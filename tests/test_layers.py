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


def _imported_names(package: Path) -> list[tuple[str, str]]:
    """``(file name, name)`` for every import under ``package``: ``import a.b`` gives ``a.b``;
    ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a module). import-linter cannot
    check what the tests below check, so they scan the source."""
    import ast

    found = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [(path.name, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found += [(path.name, node.module)]
                found += [(path.name, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_services_use_qtcore_only() -> None:
    """import-linter cannot forbid subpackages of an external package."""
    offenders = [f"{file}: {name}" for file, name in _imported_names(ROOT / "app" / "services")
                 if name.startswith(("PySide6.QtWidgets", "PySide6.QtGui"))]  # fmt: skip
    assert not offenders, offenders


def test_ui_takes_only_value_types_from_the_core() -> None:
    """House rule 4: app.ui imports app.services and app.core.types, no other core module
    (import-linter's layers contract allows any lower layer)."""
    offenders = [
        f"{file}: {name}"
        for file, name in _imported_names(ROOT / "app" / "ui")
        if (name == "app.core" or name.startswith("app.core."))
        and not (name == "app.core.types" or name.startswith("app.core.types."))
    ]
    assert not offenders, offenders
