"""The teacher is training-only: the app must not import it and the bundle must not carry it."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TEACHER_MODULES = {"model.training.teacher", "model.training.tf_checkpoint", "model.training.tag_corpus"}


def test_import_contract_forbids_the_app_to_import_the_teacher() -> None:
    """import-linter enforces the contract (tests/test_layers.py runs it); this keeps it in place."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    forbidding = [c for c in contracts if c["type"] == "forbidden" and "app" in c["source_modules"]
                  and TEACHER_MODULES <= set(c["forbidden_modules"])]
    assert forbidding


def test_bundle_excludes_the_teacher() -> None:
    spec = (ROOT / "build.spec").read_text()
    for module in TEACHER_MODULES | {"musicnn"}:
        assert f'"{module}"' in spec
