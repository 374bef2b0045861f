"""Options and helpers shared by ``soundalike index`` and ``soundalike search``."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli import CliError
from app.core.resources import default_model_path


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
    if args.model:
        path = Path(args.model)
        if not path.is_file():
            raise CliError(f"no model file at {path}")
        return path
    path = default_model_path()
    if path is None:
        raise CliError("no model installed (resources/models/default.pt); pass --model PATH")
    return path


def load_encoder(args: argparse.Namespace, threads: int | None = None):  # noqa: ANN201
    """The encoder (torch is imported here, not at module import); ``threads``: CPU threads."""
    from model.checkpoint import ModelFileError
    from model.encoder import Encoder

    path = model_path(args)
    try:
        return Encoder.load(path, device=args.device, threads=threads)
    except (ModelFileError, OSError, RuntimeError, ValueError) as exc:  # ValueError: --device cuda, no GPU
        raise CliError(f"cannot load model {path}: {str(exc).splitlines()[0]}") from None


def open_catalog(args: argparse.Namespace, create: bool):  # noqa: ANN201
    from app.core.catalog import Catalog, CatalogError

    try:
        return Catalog.open(args.db, create=create)
    except CatalogError as exc:
        raise CliError(str(exc)) from None
