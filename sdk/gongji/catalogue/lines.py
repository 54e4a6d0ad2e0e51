"""``Catalogue``: lines built from the pharmacy's own SKUs, with the national code and the
class filled in from the local store; and the mappings recorded before they are uploaded.

A SKU is settled with insurance only when the centre knows it: mapped (3301, accepted)
to a national code whose record is in force today. Anything else is refused here, with
what to do, before a message is sent; the cashier can still ring the item up as cash.
"""

from __future__ import annotations

import datetime

import attrs

from gongji import clock as beijing
from gongji.catalogue.entries import CLASS_CODES, CatalogueEntry, CatalogueMapping
from gongji.catalogue.store import CatalogueStore
from gongji.clock import Clock
from gongji.errors import InvalidInput
from gongji.model import Category, LineItem
from gongji.money import Fen

__all__ = ["Catalogue"]

#: ``InvalidInput.code`` of a SKU that cannot be settled with insurance as things stand.
UNMAPPED = "unmapped_sku"
_CASH = "or ring it up as a cash sale (nothing was sent)"


class Catalogue:
    """The national catalogue as this till holds it (``client.catalogue``)."""

    def __init__(self, store: CatalogueStore, clock: Clock = beijing.now) -> None:
        self.store = store
        self._clock = clock

    def __repr__(self) -> str:
        return f"Catalogue({self.store!r})"

    def line(
        self,
        sku: str,
        *,
        quantity: int,
        unit_price: Fen,
        name: str | None = None,
        category: Category | str | None = None,
    ) -> LineItem:
        """A line for the pharmacy's ``sku``: ``code`` is the SKU, ``national_code`` and
        ``coverage`` come from its mapping and the catalogue record in force today.
        ``InvalidInput`` (code ``unmapped_sku``) when the SKU cannot be settled so."""
        today = beijing.today(self._clock)
        mapping = self.store.mapping(sku)
        if mapping is None:
            raise InvalidInput(
                f"SKU {sku[:64]!r} is not mapped to a national catalogue code, so it cannot "
                "be settled with insurance.",
                next_step=f"Map it (`gongji catalogue map`, docs/how-to/keep-the-catalogue.md), {_CASH}.",
                code=UNMAPPED,
            )
        if mapping.uploaded_at is None:
            raise InvalidInput(
                f"The mapping of SKU {sku[:64]!r} has not reached the insurance centre yet.",
                next_step=f"Upload it with `gongji catalogue map`, {_CASH}.",
                code=UNMAPPED,
            )
        if not mapping.in_force(today):
            raise InvalidInput(
                f"The mapping of SKU {sku[:64]!r} is not in force today ({_dates(mapping)}).",
                next_step=f"Map it again with today's dates (`gongji catalogue map`), {_CASH}.",
                code=UNMAPPED,
            )
        entry = self.entry(mapping.national_code, today)
        if entry is None:
            raise InvalidInput(
                f"SKU {sku[:64]!r} is mapped to {mapping.national_code}, which the local "
                "catalogue does not hold in force today.",
                next_step=f"Run `gongji catalogue sync`; if the code is still missing, it is "
                f"no longer covered: map the SKU to its current code, {_CASH}.",
                code=UNMAPPED,
            )
        coverage = entry.coverage
        if coverage is None:
            raise InvalidInput(
                f"The catalogue gives {entry.national_code} the class {entry.class_code[:6]!r}, "
                f"which is not one of {', '.join(CLASS_CODES)} (A, B, C).",
                next_step=f"Ask the centre about the record, {_CASH}.",
                code=UNMAPPED,
            )
        return LineItem(
            code=sku,
            name=name or mapping.name,
            unit_price=unit_price,
            quantity=quantity,
            category=category or entry.category,
            coverage=coverage,
            national_code=entry.national_code,
        )

    def entry(self, national_code: str, day: datetime.date | None = None) -> CatalogueEntry | None:
        """The record of ``national_code`` in force on ``day`` (today)."""
        return self.store.entry(national_code, day or beijing.today(self._clock))

    def find(self, text: str, *, limit: int = 20) -> list[CatalogueEntry]:
        """Records whose national code starts with ``text`` or whose name contains it."""
        if not text.strip():
            raise InvalidInput(
                "Give a name or the start of a national code to find.",
                next_step="For example `gongji catalogue find 阿莫西林`.",
            )
        return self.store.find(text.strip(), limit=limit)

    def map(self, mapping: CatalogueMapping) -> CatalogueMapping:
        """Record ``mapping`` for upload (``upload_mappings``): refused unless its national
        code is in the local catalogue, in force on the mapping's first day, and of the
        same list type. A changed mapping is uploaded again."""
        if not mapping.sku or not mapping.sku.isascii() or not mapping.sku.isprintable():
            raise InvalidInput(
                "A SKU must be visible ASCII characters (the till's own item code).",
                next_step="Use the code the till prints for the item.",
            )
        if len(mapping.sku) > 30 or not mapping.name or len(mapping.name) > 200:
            raise InvalidInput(
                f"SKU {mapping.sku[:40]!r}: a SKU has at most 30 characters and a name 1 to 200.",
                next_step="Shorten them as the centre takes them (fixmedins_hilist_id C 30).",
            )
        if mapping.ends is not None and mapping.ends < mapping.begins:
            raise InvalidInput(
                f"SKU {mapping.sku!r}: the mapping ends before it begins ({_dates(mapping)}).",
                next_step="Give an end date on or after the start date, or none.",
            )
        entry = self.entry(mapping.national_code, mapping.begins)
        if entry is None:
            raise InvalidInput(
                f"SKU {mapping.sku!r}: the local catalogue holds no record of "
                f"{mapping.national_code[:50]!r} in force on {mapping.begins}.",
                next_step="Run `gongji catalogue sync`, then find the code with "
                "`gongji catalogue find`.",
            )
        if mapping.list_type and mapping.list_type != entry.list_type:
            raise InvalidInput(
                f"SKU {mapping.sku!r}: {entry.national_code} is of list type "
                f"{entry.list_type}, not {mapping.list_type}.",
                next_step=f"Leave the list type out, or give {entry.list_type}.",
            )
        known = self.store.mapping(mapping.sku)
        recorded = attrs.evolve(mapping, list_type=entry.list_type, uploaded_at=None)
        if known is not None and attrs.evolve(known, uploaded_at=None) == recorded:
            return known  # unchanged: the centre has it already, or it is still to go
        self.store.put_mapping(recorded)
        return recorded


def _dates(mapping: CatalogueMapping) -> str:
    return f"from {mapping.begins} to {mapping.ends or 'no end'}"
