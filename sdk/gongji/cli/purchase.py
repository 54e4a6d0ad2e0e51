"""A purchase from the command line: a TOML or JSON file (``FILE`` or ``--purchase FILE``)
or flags (the arguments themselves are ``purchase_arguments``'s).

Both become one typed ``PurchaseFile`` (msgspec), so a wrong field is named the same
way whichever way it came (``items[0].quantity: Expected `int`, got `str```), and
then a ``gongji.Purchase``. Prices are yuan read from the file's text, never through
a float: TOML and JSON numbers are kept as the digits written. The format is
documented in docs/reference/cli.md; examples/purchase.toml is one.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from gongji.cli.purchase_arguments import FLAGS, FORMAT_DOC, ITEM_FORMAT
from gongji.errors import GongjiError, InvalidInput
from gongji.identity import Credential, optional_id_number
from gongji.model import Category, Coverage, LineItem, Purchase, Purpose, Setting
from gongji.money import Fen

__all__ = ["ItemFile", "PurchaseFile", "purchase_from_args", "read_purchase"]

T = TypeVar("T")


class ItemFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One line of the basket."""

    code: str
    name: str
    price: str | int  # yuan, at most two decimals: "12.50", 12.50 or 12
    quantity: int = 1
    coverage: Coverage = Coverage.A
    category: Category = Category.DRUG


class PurchaseFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A purchase as a file holds it. One credential: ``e_voucher`` (the QR text),
    ``id_card``, or ``social_card`` (the card number, with ``card_sn`` and ``card_region``,
    and ``card_holder`` where the reader gives the holder's ID number)."""

    items: list[ItemFile]
    e_voucher: str | None = None
    id_card: str | None = None
    social_card: str | None = None
    card_sn: str | None = None
    card_region: str | None = None
    card_holder: str | None = None
    patient: str | None = None  # the ID number of who is treated; none: the credential's holder
    agent: str | None = None  # the ID number of who presents it (a proxy purchase)
    purpose: Purpose = Purpose.MEDICAL
    setting: Setting = Setting.PHARMACY
    use_mutual_aid: bool = False  # the patient asked to pay from relatives' accounts
    chronic_disease: str = ""  # the registered chronic or special disease to settle under

    def __repr__(self) -> str:  # a token or an ID number never lands in a log
        return f"PurchaseFile(items={len(self.items)}, purpose={self.purpose.value!r})"


# ---------------------------------------------------------------- from a file


def read_purchase(path: Path) -> Purchase:
    """The purchase in the TOML or JSON file at ``path``; ``InvalidInput`` naming what is wrong."""
    if path.suffix.lower() not in (".toml", ".json"):
        raise InvalidInput(
            f"The purchase file {path} is neither .toml nor .json.",
            next_step=f"Write it in TOML or JSON, named by its extension ({FORMAT_DOC}).",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(
            f"There is no purchase file at {path}.",
            next_step="Check the path, or copy examples/purchase.toml and edit it.",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise InvalidInput(
            f"The purchase file {path} cannot be read ({reason}).",
            next_step="Pass a readable UTF-8 purchase file.",
        ) from None
    document: Any
    try:
        if path.suffix.lower() == ".toml":
            # Numbers with a point come back as the digits written: yuan never pass a float.
            document = tomllib.loads(text, parse_float=str)
        else:
            document = msgspec.json.Decoder(float_hook=str).decode(text.encode("utf-8"))
    # ValueError: tomllib's own (an integer past 4300 digits too); RecursionError: nested
    # deeper than the stack. Found by tests/fuzz.
    except (ValueError, msgspec.DecodeError, RecursionError) as error:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise InvalidInput(
            f"The purchase file {path} is not valid {kind}: {reason}.",
            next_step=f"Fix the file ({FORMAT_DOC}).",
        ) from None
    return to_purchase(_typed(document, str(path)), str(path))


def _typed(document: Any, where: str, *, strict: bool = True) -> PurchaseFile:
    try:
        return msgspec.convert(document, PurchaseFile, strict=strict)
    except msgspec.ValidationError as error:
        raise InvalidInput(
            f"{where}: {_located(where, str(error))}.",
            next_step=f"Fix that field; the purchase format is in {FORMAT_DOC}.",
        ) from None


def _located(where: str, message: str) -> str:
    """msgspec's ``... - at `$.items[0].price``` as ``items[0].price: ...``."""
    found = re.fullmatch(r"(.*) - at `\$\.?(.*)`", message)
    if found is None:
        return message
    what, field = found.groups()
    return f"{_named(where, field)}: {what}" if field else what


# ---------------------------------------------------------------- to a Purchase


def to_purchase(typed: PurchaseFile, where: str) -> Purchase:
    """A ``gongji.Purchase`` of the file's fields; an invalid value is named by its field."""
    credentials = [
        name for name in ("e_voucher", "id_card", "social_card") if getattr(typed, name) is not None
    ]
    if len(credentials) != 1:
        raise InvalidInput(
            f"{where}: the purchase needs exactly one credential, got "
            f"{' and '.join(credentials) or 'none'}.",
            next_step="Give one of e_voucher, id_card or social_card (with card_sn).",
        )
    card_fields = ("card_sn", "card_region", "card_holder")
    stray = [name for name in card_fields if getattr(typed, name) is not None]
    if typed.social_card is None and stray:
        raise InvalidInput(
            f"{where}: {' and '.join(stray)} belong to a social_card.",
            next_step="Give social_card with card_sn and card_region, or drop them.",
        )
    credential = _field(where, credentials[0], lambda: _credential(typed))
    items = [_line(where, number, item) for number, item in enumerate(typed.items)]
    patient = _field(where, "patient", lambda: optional_id_number(typed.patient))
    agent = _field(where, "agent", lambda: optional_id_number(typed.agent))
    try:
        return Purchase(
            credential=credential,
            items=items,
            patient_id=patient,
            agent_id=agent,
            purpose=typed.purpose,
            setting=typed.setting,
            use_mutual_aid=typed.use_mutual_aid,
            chronic_disease=typed.chronic_disease,
        )
    except GongjiError as error:  # the basket as a whole (an empty one, ...)
        raise InvalidInput(f"{where}: {error.message}", next_step=error.next_step) from None


def _credential(typed: PurchaseFile) -> Credential:
    if typed.e_voucher is not None:
        return Credential.e_voucher(typed.e_voucher)
    if typed.id_card is not None:
        return Credential.id_card(typed.id_card)
    assert typed.social_card is not None
    return Credential.social_card(
        typed.social_card,
        card_sn=typed.card_sn or "",
        region=typed.card_region or "",
        holder=typed.card_holder,
    )


def _line(where: str, number: int, item: ItemFile) -> LineItem:
    price = _field(where, f"items[{number}].price", lambda: Fen.from_yuan(str(item.price)))
    return _field(
        where,
        f"items[{number}]",
        lambda: LineItem(
            code=item.code,
            name=item.name,
            unit_price=price,
            quantity=item.quantity,
            coverage=item.coverage,
            category=item.category,
        ),
    )


def _field(where: str, field: str, build: Callable[[], T]) -> T:
    try:
        return build()
    except GongjiError as error:
        raise InvalidInput(
            f"{where}: {_named(where, field)}: {error.message}", next_step=error.next_step
        ) from None


def _named(where: str, field: str) -> str:
    """A field as its source spells it: ``items[1].price`` of the flags is the second --item's."""
    if where != FLAGS:
        return field
    if not field.startswith("items"):
        return f"--{field.replace('_', '-')}"
    return re.sub(
        r"items\[([0-9]+)\]\.?", lambda found: f"--item #{int(found.group(1)) + 1} ", field
    ).strip()


# ---------------------------------------------------------------- from flags


_ITEM_FIELDS = ("code", "name", "price", "quantity", "coverage", "category")
_PURCHASE_FLAGS = (
    "e_voucher",
    "id_card",
    "purpose",
    "setting",
    "patient",
    "agent",
    "use_mutual_aid",
    "chronic_disease",
)


def purchase_from_args(args: argparse.Namespace) -> Purchase:
    """The purchase of ``FILE`` (or ``--purchase FILE``), or of the flags; never both."""
    flagged = [flag for flag in (*_PURCHASE_FLAGS, "item") if getattr(args, flag) is not None]
    if args.file is not None and args.purchase is not None:
        raise InvalidInput(
            f"The purchase file was given twice: {args.file} and --purchase {args.purchase}.",
            next_step="Give it once: `gongji preview FILE` or `gongji preview --purchase FILE`.",
        )
    path = args.file if args.file is not None else args.purchase
    if path is not None:
        if flagged:
            raise InvalidInput(
                f"A purchase file was given with --{flagged[0].replace('_', '-')}.",
                next_step="Give the purchase either as a file or as flags, not both.",
            )
        return read_purchase(path)
    if not args.item:
        raise InvalidInput(
            "No purchase was given.",
            next_step=f"Pass FILE (or --purchase FILE), or --e-voucher TOKEN / --id-card NUMBER with "
            f"--item {ITEM_FORMAT}.",
        )
    document = {
        "items": [_item_fields(text) for text in args.item],
        **{
            name: getattr(args, name) for name in _PURCHASE_FLAGS if getattr(args, name) is not None
        },
    }
    # strict=False: a quantity typed on the command line is text, "2" means 2.
    return to_purchase(_typed(document, FLAGS, strict=False), FLAGS)


def _item_fields(text: str) -> dict[str, str]:
    parts = text.split(":")
    if not 3 <= len(parts) <= len(_ITEM_FIELDS):
        raise InvalidInput(
            f"--item {text[:60]!r} is not {ITEM_FORMAT}.",
            next_step="Write e.g. --item 'X01:感冒灵颗粒:12.50:2:A:drug'.",
        )
    fields = dict(zip(_ITEM_FIELDS, parts, strict=False))
    quantity = fields.get("quantity", "1")
    # Read leniently, "1e3" or "1_000" would become a thousand units: whole digits only.
    if not (quantity.isascii() and quantity.isdigit()):
        raise InvalidInput(
            f"--item {text[:60]!r} has quantity {quantity[:20]!r}, not a whole number of units.",
            next_step="Write the quantity in digits, e.g. --item 'X01:感冒灵颗粒:12.50:2'; "
            "nothing was sent.",
        )
    return fields
