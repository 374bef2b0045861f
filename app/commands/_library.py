"""Options and helpers shared by ``soundalike index`` and ``soundalike search``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from app.cli import CliError

# The shipped model (resources/models/default.pt); $SOUNDALIKE_MODEL overrides it.
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "default.pt"


def add_library_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="PATH", help="library file (default: library.db in the per-user data dir)"
    )
    parser.add_argument(
        "--model", metavar="M", help="model file (default: the shipped model, or $SOUNDALIKE_MODEL)"
    )
    parser.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda"), help="where the encoder runs"
    )


def model_path(args: argparse.Namespace) -> Path:
    path = Path(args.model or os.environ.get("SOUNDALIKE_MODEL") or SHIPPED_MODEL)
    if not path.is_file():
        raise CliError(f"no model file at {path}; pass --model PATH")
    return path


def load_encoder(args: argparse.Namespace):  # noqa: ANN201 - torch stays out of module import
    from model.checkpoint import ModelFileError
    from model.encoder import Encoder

    path = model_path(args)
    try:
        return Encoder.load(path, device=args.device)
    except (ModelFileError, OSError, RuntimeError) as exc:
        raise CliError(f"cannot load model {path}: {str(exc).splitlines()[0]}") from None


def open_catalog(args: argparse.Namespace, create: bool):  # noqa: ANN201
    from app.core.catalog import Catalog, CatalogError

    try:
        return Catalog.open(args.db, create=create)
    except CatalogError as exc:
        raise CliError(str(exc)) from None
