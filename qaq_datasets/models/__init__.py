"""Model specs, the built-in aliases, the converted-weights cache and loading."""

from .aliases import ALIASES, DEFAULT_STRONG, DEFAULT_WEAK
from .loading import QAQModel, load_model, load_part, resolve_dtype
from .spec import ResolvedSpec, resolve_spec

__all__ = ["ALIASES", "DEFAULT_STRONG", "DEFAULT_WEAK", "QAQModel", "ResolvedSpec", "load_model", "load_part",
           "resolve_dtype", "resolve_spec"]
