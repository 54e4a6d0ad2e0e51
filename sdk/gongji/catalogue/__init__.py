"""The national catalogue at the till: download it (1312) into a local store, find in it,
map the pharmacy's SKUs to it (3301), and build lines from SKUs with the national code
and class filled in. See docs/how-to/keep-the-catalogue.md.

* ``entries``: the values (``CatalogueEntry``, ``CatalogueMapping``, ...) and the
  ``CatalogueGateway`` protocol a gateway implements to offer ``Capability.CATALOGUE``;
* ``store``: ``CatalogueStore``, the SQLite file beside the journal;
* ``lines``: ``Catalogue``, what a till asks (``client.catalogue``).

The flows that talk to the centre are ``gongji.flows.catalogue``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gongji.lazy import exports

if TYPE_CHECKING:
    from gongji.catalogue.entries import (
        CatalogueEntry,
        CatalogueGateway,
        CatalogueMapping,
        CataloguePage,
        MappingReport,
        SyncReport,
    )
    from gongji.catalogue.lines import UNMAPPED, Catalogue
    from gongji.catalogue.store import CatalogueStore, store_beside

__all__ = [
    "UNMAPPED",
    "Catalogue",
    "CatalogueEntry",
    "CatalogueGateway",
    "CatalogueMapping",
    "CataloguePage",
    "CatalogueStore",
    "MappingReport",
    "SyncReport",
    "store_beside",
]

# Imported on first use (PEP 562): a gateway that only names the catalogue's values does
# not load the store (SQLite) nor the till's lines at start-up (bench/bench_startup.py).
_HOMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "CatalogueEntry",
            "CatalogueGateway",
            "CatalogueMapping",
            "CataloguePage",
            "MappingReport",
            "SyncReport",
        ),
        "gongji.catalogue.entries",
    ),
    "UNMAPPED": "gongji.catalogue.lines",
    "Catalogue": "gongji.catalogue.lines",
    "CatalogueStore": "gongji.catalogue.store",
    "store_beside": "gongji.catalogue.store",
}

__getattr__, __dir__ = exports(__name__, _HOMES)
