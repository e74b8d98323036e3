"""A local stand-in for the Hugging Face Hub HTTP API, for tests only (see :mod:`hubstandin.server`)."""

from .server import HubStandIn

__all__ = ["HubStandIn"]
