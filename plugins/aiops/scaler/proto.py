"""Python stubs for ``include/proto/externalscaler.proto``, generated when missing or stale.

Generated code is not committed: it is tied to the installed protobuf runtime, and a stale
copy would silently disagree with the ``.proto``. ``make setup`` runs ``python -m
aiops.scaler.proto``; :func:`load_stubs` regenerates too when the stubs are missing or older
than the ``.proto``, so a fresh clone's ``make test`` and a plain ``pip install -e .`` work.

protoc writes ``import externalscaler_pb2`` (a bare, top-level name) into the ``_pb2_grpc``
module; that only works with the output folder on ``sys.path``. The import is rewritten to a
relative one, so the stubs live inside the package like any other module.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

PROTO = Path(__file__).resolve().parents[3] / "include" / "proto" / "externalscaler.proto"
GENERATED = Path(__file__).resolve().parent / "_generated"
PACKAGE = f"{__package__}._generated"
_STEM = "externalscaler"
_OUTPUTS = (f"{_STEM}_pb2.py", f"{_STEM}_pb2.pyi", f"{_STEM}_pb2_grpc.py")
_BARE_IMPORT = re.compile(rf"^import {_STEM}_pb2 as ", re.MULTILINE)


class StubsError(RuntimeError):
    """The gRPC stubs could not be generated or imported; the message names the files."""


def stubs_are_fresh(proto: Path = PROTO, out: Path = GENERATED) -> bool:
    """True when every generated file exists and none is older than ``proto``."""
    paths = [out / "__init__.py", *(out / name for name in _OUTPUTS)]
    if not all(path.is_file() for path in paths):
        return False
    if not proto.is_file():  # installed without the .proto: whatever was generated is it
        return True
    return min(path.stat().st_mtime for path in paths) >= proto.stat().st_mtime


def generate_stubs(proto: Path = PROTO, out: Path = GENERATED) -> list[Path]:
    """Run grpc_tools.protoc on ``proto`` into ``out`` and return the files written.

    Each file is written next to its destination and renamed over it, so a process that
    imports the stubs while another regenerates them never reads half a file.
    """
    from grpc_tools import protoc

    if not proto.is_file():
        raise StubsError(f"{proto}: proto file not found; cannot generate the gRPC stubs")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".protoc-", dir=out) as tmp:
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"--proto_path={proto.parent}",
                f"--python_out={tmp}",
                f"--pyi_out={tmp}",
                f"--grpc_python_out={tmp}",
                str(proto),
            ]
        )
        if code != 0:
            raise StubsError(f"{proto}: grpc_tools.protoc failed with exit code {code}")
        grpc_module = Path(tmp) / f"{_STEM}_pb2_grpc.py"
        text, replaced = _BARE_IMPORT.subn(
            f"from . import {_STEM}_pb2 as ", grpc_module.read_text()
        )
        if replaced != 1:
            raise StubsError(
                f"{grpc_module.name}: expected one 'import {_STEM}_pb2 as' line to make "
                f"relative, found {replaced}; has grpcio-tools changed its output?"
            )
        grpc_module.write_text(text)
        (Path(tmp) / "__init__.py").write_text(
            f'"""Generated from {proto.name} by aiops.scaler.proto; do not edit."""\n'
        )
        written = []
        for name in ("__init__.py", *_OUTPUTS):
            os.replace(Path(tmp) / name, out / name)
            written.append(out / name)
    logger.info("generated gRPC stubs for %s in %s", proto.name, out)
    return written


def ensure_stubs(proto: Path = PROTO, out: Path = GENERATED) -> None:
    """Generate the stubs unless they are fresh; a read-only install keeps what it has."""
    if stubs_are_fresh(proto, out):
        return
    try:
        generate_stubs(proto, out)
    except (OSError, StubsError) as exc:
        if all((out / name).is_file() for name in _OUTPUTS):
            logger.warning("using existing gRPC stubs in %s: cannot regenerate: %s", out, exc)
            return
        raise StubsError(f"{out}: no gRPC stubs and cannot generate them: {exc}") from exc


def load_stubs() -> tuple[ModuleType, ModuleType]:
    """The ``externalscaler_pb2`` and ``externalscaler_pb2_grpc`` modules, fresh."""
    ensure_stubs()
    try:
        pb2 = importlib.import_module(f"{PACKAGE}.{_STEM}_pb2")
        pb2_grpc = importlib.import_module(f"{PACKAGE}.{_STEM}_pb2_grpc")
    except ImportError as exc:
        raise StubsError(f"{GENERATED}: cannot import the gRPC stubs: {exc}") from exc
    return pb2, pb2_grpc


def main() -> int:
    """``python -m aiops.scaler.proto``: (re)generate the stubs, as ``make setup`` does."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in generate_stubs():
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
