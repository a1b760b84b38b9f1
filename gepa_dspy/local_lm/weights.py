"""Find the weight chunks of a shipped model, assemble them into one GGUF in the cache, verify its sha256."""

from __future__ import annotations

import hashlib
import importlib.machinery
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .cache_dir import cache_root, models_dir
from .errors import ChecksumMismatchError, LocalLMError, WeightsNotInstalledError
from .models import MODELS, ChunkedModel

logger = logging.getLogger(__name__)

_READ_BLOCK = 8 * 1024 * 1024
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class VerifiedStamp:
    """What we knew about a cached GGUF when we last hashed it; lets later runs skip re-hashing 1 GB."""

    sha256: str
    size: int
    mtime_ns: int

    def dumps(self) -> str:
        return f"{self.sha256} {self.size} {self.mtime_ns}\n"

    @classmethod
    def loads(cls, text: str) -> "VerifiedStamp | None":
        parts = text.split()
        if len(parts) != 3:
            return None
        try:
            return cls(parts[0], int(parts[1]), int(parts[2]))
        except ValueError:
            return None


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def locate_chunks(model: ChunkedModel, search_path: Sequence[str] | None = None) -> list[Path]:
    """Paths of the model's chunk files in numeric order, found without importing the chunk packages.

    ``search_path`` defaults to ``sys.path``. Raises WeightsNotInstalledError naming every missing package
    and the pip command that installs them.
    """
    chunks: list[Path] = []
    missing: list[str] = []
    broken: list[str] = []
    for part in range(1, model.num_parts + 1):
        spec = importlib.machinery.PathFinder.find_spec(model.module_name(part), search_path)
        if spec is None or not spec.submodule_search_locations:
            missing.append(model.package_name(part))
            continue
        package_dir = Path(list(spec.submodule_search_locations)[0])
        chunk = package_dir / "data" / model.chunk_file_name(part)
        if not chunk.is_file():
            broken.append(f"{model.package_name(part)} (no {chunk})")
            continue
        chunks.append(chunk)
    if missing or broken:
        lines = [f"The weights of the '{model.alias}' model ({model.description}) are not fully installed."]
        if missing:
            lines.append(f"Missing packages: {', '.join(missing)}.")
        if broken:
            lines.append(f"Installed but without their data file: {', '.join(broken)}.")
        lines.append(f"Install all {model.num_parts} chunk packages with:\n  {model.install_command()}")
        if broken:
            lines.append("(add --force-reinstall to repair the broken ones)")
        raise WeightsNotInstalledError("\n".join(lines))
    return chunks


def _stamp_path(gguf: Path) -> Path:
    return gguf.with_name(gguf.name + ".verified")


def _read_stamp(gguf: Path) -> VerifiedStamp | None:
    try:
        return VerifiedStamp.loads(_stamp_path(gguf).read_text())
    except OSError:
        return None


def _write_stamp(gguf: Path, sha: str) -> None:
    st = gguf.stat()
    _stamp_path(gguf).write_text(VerifiedStamp(sha, st.st_size, st.st_mtime_ns).dumps())


def cached_file_is_valid(gguf: Path, expected_sha256: str) -> bool:
    """True when ``gguf`` exists and has the expected sha256 (re-hashed only if it changed since last check)."""
    if not gguf.is_file():
        return False
    st = gguf.stat()
    stamp = _read_stamp(gguf)
    if stamp == VerifiedStamp(expected_sha256, st.st_size, st.st_mtime_ns):
        return True
    logger.info("Verifying sha256 of %s ...", gguf)
    actual = sha256_of(gguf)
    if actual != expected_sha256:
        logger.warning("Cached model %s has sha256 %s, expected %s; it will be rebuilt.", gguf, actual, expected_sha256)
        return False
    _write_stamp(gguf, actual)
    return True


def assemble(model: ChunkedModel, chunks: Sequence[Path], target: Path) -> Path:
    """Concatenate ``chunks`` into ``target`` atomically, checking size and sha256 on the way.

    Raises ChecksumMismatchError (and leaves no file behind) when the bytes are not the expected ones.
    """
    total = sum(c.stat().st_size for c in chunks)
    packages = ", ".join(model.requirements())
    if model.size_bytes and total != model.size_bytes:
        raise ChecksumMismatchError(
            f"The chunk files of the '{model.alias}' model add up to {total} bytes, expected {model.size_bytes}. "
            f"Reinstall them with:\n  {model.install_command()} --force-reinstall\n(packages: {packages})"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < total:
        raise LocalLMError(f"Not enough disk space in {target.parent}: need {total} bytes, {free} free.")
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    digest = hashlib.sha256()
    logger.info("Assembling %s from %d chunks into %s (first run only) ...", model.alias, len(chunks), target)
    try:
        with open(partial, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as f:
                    while block := f.read(_READ_BLOCK):
                        digest.update(block)
                        out.write(block)
        actual = digest.hexdigest()
        if actual != model.sha256:
            raise ChecksumMismatchError(
                f"The assembled '{model.alias}' model has sha256 {actual}, expected {model.sha256}. "
                f"A chunk package is corrupt or has the wrong version; reinstall them with:\n"
                f"  {model.install_command()} --force-reinstall"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(target, actual)
    return target


def ensure_model_file(
    model: ChunkedModel,
    cache_dir: str | os.PathLike[str] | None = None,
    search_path: Sequence[str] | None = None,
) -> Path:
    """The verified GGUF of a shipped model in the cache, assembling it from the chunk packages if needed."""
    target = models_dir(cache_root(cache_dir)) / model.gguf_name
    if cached_file_is_valid(target, model.sha256):
        return target
    chunks = locate_chunks(model, search_path)
    return assemble(model, chunks, target)


def check_gguf_file(path: Path) -> Path:
    """Check that a user-supplied model path exists and starts with the GGUF magic bytes."""
    if not path.is_file():
        raise LocalLMError(
            f"Model '{path}' is neither a shipped model alias ({', '.join(sorted(MODELS))}) nor an existing file."
        )
    with open(path, "rb") as f:
        magic = f.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise LocalLMError(f"{path} is not a GGUF file (it does not start with b'GGUF'); llama-server needs GGUF.")
    return path


def resolve_model_file(
    model: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    search_path: Sequence[str] | None = None,
) -> Path:
    """A GGUF path for ``model``: a shipped alias ("default", "fast") or a path to your own GGUF file."""
    if isinstance(model, str) and model in MODELS:
        return ensure_model_file(MODELS[model], cache_dir, search_path)
    return check_gguf_file(Path(model).expanduser().resolve())
