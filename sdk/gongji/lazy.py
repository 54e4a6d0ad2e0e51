"""A package's public names, imported on first use (PEP 562).

Every ``gongji`` command loads the installed plugins, and a plugin's module is imported
with its package: a package that imported its gateway up front would make
``gongji --help`` pay for every adapter. So ``gongji`` and the adapter packages
re-export their names through ``exports``; type checkers read the package's
``TYPE_CHECKING`` imports, and a test keeps those, ``__all__`` and the homes the same.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package``: each name of ``homes``
    (name -> the module it lives in) imported when first asked for, and a submodule
    (``gongji.errors`` after a bare ``import gongji``) too."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is not None:
            value = getattr(importlib.import_module(home), name)
            namespace[name] = value  # once imported, a plain attribute
            return value
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{package}.{name}":
                raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
