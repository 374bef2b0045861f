"""Options and helpers shared by ``soundalike index`` and ``soundalike search``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli import CliError


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="PATH|URL",
        help="library file (default: library.db in the per-user data dir), or a studio's shared "
        "catalog: postgresql://USER@HOST/DB (needs the studio extra)",
    )


def add_library_options(parser: argparse.ArgumentParser) -> None:
    add_db_option(parser)
    parser.add_argument(
        "--model", metavar="M",
        help="model file (default: the one that indexed the library, else $SOUNDALIKE_MODEL or the shipped model)",
    )
    parser.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda"), help="where the encoder runs"
    )


def model_path(args: argparse.Namespace, catalog=None, reembed_ok: bool = False) -> Path:  # noqa: ANN001
    """The model for this command: ``--model``, else the one that indexed ``catalog``, ...

    (``app.core.model_registry.resolve_model``, the app's choice too.) When the library's
    model is not installed, ``search`` says which model to pass; ``index`` (``reembed_ok``)
    re-embeds the library with the default and says so.
    """
    from app.core.model_registry import DEFAULT_MODEL, ModelChoiceError, resolve_model
    from model.model_id import model_id_of

    indexed, hints = catalog.indexing_models() if catalog is not None else ([], {})
    try:
        entry = resolve_model(args.model, indexed=indexed, hints=hints, identify=model_id_of)
    except ModelChoiceError as exc:
        raise CliError(str(exc)) from None
    if entry is None:
        raise CliError(
            "no model file: no trained default model is installed yet "
            f"({DEFAULT_MODEL} is missing); pass --model PATH"
        )
    if indexed and not args.model and model_id_of(entry.path) not in indexed:
        where = hints.get(indexed[0])
        known = f"last seen at {where}, now gone" if where else "not installed here"
        if not reembed_ok:
            raise CliError(
                f"the library {catalog.path} was indexed with model {indexed[0]} ({known}); pass "
                f"--model FILE with that model, or run `soundalike index DIR --model {entry.path}` "
                "to re-embed the library"
            )
        print(f"note: the library's model {indexed[0]} is {known}; re-embedding with {entry.path}",
              file=sys.stderr)
    return entry.path


def load_encoder(args: argparse.Namespace, threads: int | None = None, catalog=None,  # noqa: ANN001
                 reembed_ok: bool = False, lazy: bool = False, announce: bool = False,
                 onnx: bool = False, bulk: bool = False, spin: bool = True):  # noqa: ANN201
    """The encoder (torch is imported here, not at module import); ``threads``: CPU threads.

    ``lazy``: loaded on first use (``app.core.lazy_encoder``), so a run that embeds nothing
    never imports torch; with ``bulk``, as without it when the run has only a few files to
    embed (``LazyEncoder.expect``). ``announce``: say on stderr which runtime, device and precision it uses.
    ``onnx``: the model's ONNX export on onnxruntime when there is a matching one
    (``model.onnx_encoder``; no torch import, and twice torch's speed on a CPU), unless
    ``--device cuda`` or ``SOUNDALIKE_RUNTIME=torch``; ``bulk`` (indexing, ``embed``): nor
    with ``--device auto`` where a GPU may be (torch on a GPU is faster still), and on
    OpenVINO in bf16 where the CPU has bfloat16 units; ``spin=False``: its threads sleep
    between runs (``model.onnx_encoder.load_onnx_encoder``).
    """
    from app.core.lazy_encoder import LazyEncoder

    def load(path: Path, bulk: bool = bulk):  # noqa: ANN202 - a lazy encoder may load for fewer files
        if onnx:
            from model.onnx_encoder import load_onnx_encoder

            exported = load_onnx_encoder(path, threads, args.device, bulk, spin)
            if exported is not None:
                if announce:
                    from model.onnx_encoder import describe as describe_onnx

                    print(f"encoder: {describe_onnx(exported)}", file=sys.stderr)
                return exported
        from model.checkpoint import ModelFileError
        from model.encoder import Encoder, describe

        try:
            encoder = Encoder.load(path, device=args.device, threads=threads)
        except (ModelFileError, OSError, RuntimeError, ValueError) as exc:  # ValueError: --device cuda, no GPU
            raise CliError(f"cannot load model {path}: {str(exc).splitlines()[0]}") from None
        if announce:
            print(f"encoder: {describe(encoder)}", file=sys.stderr)  # which device (CUDA or CPU) and precision
        return encoder

    path = model_path(args, catalog, reembed_ok)
    # An explicit GPU request is checked at once: asking for the impossible fails before any work.
    if lazy and args.device != "cuda":
        from model.onnx_encoder import gpu_expected

        def load_for(model: Path, many: bool):  # noqa: ANN202 - the lazy encoder's loader: few files, no bulk
            return load(model, bulk and many)

        return LazyEncoder(path, load_for, on_gpu=bulk and gpu_expected(args.device))
    return load(path)


def open_catalog(args: argparse.Namespace, create: bool):  # noqa: ANN201
    from app.core.catalog import Catalog, CatalogError

    try:
        return Catalog.open(args.db, create=create)
    except CatalogError as exc:
        raise CliError(str(exc)) from None


def read_list(path: Path) -> list[str]:
    """Paths listed one per line (blank lines and # comments ignored), for --from-list."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"cannot read --from-list {path}: {exc.strerror or exc}") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
