"""Download the national catalogue (1312) into the local store, and upload the pharmacy's
SKU mappings (3301).

A download asks for the records updated since the store's version (the latest
``updt_time`` it holds), page by page. Each page is written with the page reached, so a
download that a crash or the network cut off goes on from the next page when it is run
again; a record written twice changes nothing. Only a finished download moves the
version on. ``full`` asks for the whole catalogue again (after a long gap, or when the
store is in doubt).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

import httpx

from gongji.catalogue.entries import CatalogueGateway, MappingReport, SyncReport
from gongji.catalogue.store import CatalogueStore
from gongji.errors import Declined, InvalidInput, Unavailable
from gongji.flows.setup import Setup
from gongji.flows.steps import read
from gongji.gateways import Capability, require
from gongji.gateways.exchange import Flow

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Progress", "sync", "upload_mappings"]

#: Records per 1312 page. Public clients ask for 100 to 1000 a page.
DEFAULT_PAGE_SIZE = 500
#: ``page_size`` is N 4 on the wire.
MAX_PAGE_SIZE = 9_999
#: Told after each page: (pages done, pages in all, as the centre last said).
Progress = Callable[[int, int], None]


def catalogue_gateway(setup: Setup) -> CatalogueGateway:
    require(setup.gateway, Capability.CATALOGUE)
    return cast(CatalogueGateway, setup.gateway)


def sync(
    setup: Setup,
    store: CatalogueStore,
    *,
    full: bool = False,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: Progress | None = None,
) -> Flow[SyncReport]:
    """Bring ``store`` up to date with the centre's catalogue; resumes a cut-off download."""
    gateway = catalogue_gateway(setup)
    if type(page_size) is not int or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(
            f"A page size must be a whole number from 1 to {MAX_PAGE_SIZE}.",
            next_step=f"Leave it out ({DEFAULT_PAGE_SIZE} a page) or give a smaller one.",
        )
    run = None if full else store.pending_run()
    resumed_at = run.next_page if run is not None else None
    if run is None:
        run = store.begin_run(None if full else store.version, page_size)
    pages = 0
    while True:
        page = yield from read(
            setup,
            f"Downloading page {run.next_page} of the catalogue (1312)",
            functools.partial(gateway.catalogue_page, run.since, run.next_page, run.page_size),
        )
        run = store.save_page(run, page)
        pages += 1
        if progress is not None:
            progress(run.next_page - 1, max(page.pages, run.next_page - 1))
        # An empty page ends it too: a centre that miscounts its pages cannot loop us.
        if page.page >= page.pages or not page.entries:
            break
    version = store.finish_run(run)
    return SyncReport(
        pages=pages,
        entries=run.entries,
        version=version,
        resumed_at_page=resumed_at,
        held=store.count(),
    )


def upload_mappings(setup: Setup, store: CatalogueStore) -> Flow[MappingReport]:
    """Upload every mapping the centre does not have yet (3301), one message each.

    A refused mapping stays pending, with the centre's words in the report. A lost
    answer stops the upload (``Unavailable``): the mapping stays pending and goes again
    next time, which the centre takes as the same mapping.
    """
    gateway = catalogue_gateway(setup)
    uploaded: list[str] = []
    refused: list[tuple[str, str]] = []
    for mapping in store.mappings(pending=True):
        try:
            yield from gateway.upload_mapping(mapping)
        except Declined as error:
            refused.append((mapping.sku, error.err_msg or error.message))
            continue
        except httpx.HTTPError as error:
            raise Unavailable(
                f"The upload of SKU {mapping.sku!r} got no answer ({type(error).__name__}).",
                next_step="Run the upload again: mappings not confirmed are sent again.",
            ) from error
        store.mark_uploaded(mapping.sku, setup.clock())
        uploaded.append(mapping.sku)
    return MappingReport(uploaded=tuple(uploaded), refused=tuple(refused))
