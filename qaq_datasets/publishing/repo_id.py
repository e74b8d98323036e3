"""Checking Hub repo ids before anything is sent.

Examples
    >>> check_repo_id("me/curated-code")
    'me/curated-code'
    >>> check_repo_id("me/bad name")
    Traceback (most recent call last):
    ...
    qaq_datasets.errors.ConfigError: repo_id 'me/bad name' is not a valid Hub repo id ...
"""

from __future__ import annotations

from ..errors import ConfigError, ConfigTypeError


def check_repo_id(repo_id, *, what: str = "repo_id") -> str:
    """Return ``repo_id`` if it is a valid ``namespace/name`` (or ``name``) Hub id, else raise ConfigError."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo_id, str):
        raise ConfigTypeError(f"{what} must be a string like 'namespace/name', got {type(repo_id).__name__}.")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise ConfigError(
            f"{what} {repo_id!r} is not a valid Hub repo id (expected 'namespace/name': letters, digits, "
            f"'-', '_', '.'; at most 96 characters). {exc}"
        ) from exc
    return repo_id
