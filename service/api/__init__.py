"""The HTTP service: FastAPI app, auth, gateway decisions, analyst APIs."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """Build the FastAPI app (see :func:`service.api.app.create_app`)."""
    from service.api.app import create_app as _create

    return _create(*args, **kwargs)
