"""Import optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib

__all__ = ["import_optional"]


def import_optional(module: str, *, extra: str, purpose: str = ""):
    """Import ``module`` or raise ImportError telling how to install it.

    Parameters
    ----------
    module : str
        e.g. ``"matplotlib.pyplot"``.
    extra : str
        The gdlearn extra that provides it, e.g. ``"plot"``.
    purpose : str
        What needs it, for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        need = f" for {purpose}" if purpose else ""
        raise ImportError(
            f"{module.split('.')[0]} is needed{need} but is not installed. "
            f'Install it with: pip install "gdlearn[{extra}]"'
        ) from exc
