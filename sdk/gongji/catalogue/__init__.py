"""The national catalogue at the till: download it (1312) into a local store, find in it,
map the pharmacy's SKUs to it (3301), and build lines from SKUs with the national code
and class filled in. See docs/how-to/keep-the-catalogue.md.

* ``entries``: the values (``CatalogueEntry``, ``CatalogueMapping``, ...) and the
  ``CatalogueGateway`` protocol a gateway implements to offer ``Capability.CATALOGUE``;
* ``store``: ``CatalogueStore``, the SQLite file beside the journal;
* ``lines``: ``Catalogue``, what a till asks (``client.catalogue``).

The flows that talk to the centre are ``gongji.flows.catalogue``.
"""

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
