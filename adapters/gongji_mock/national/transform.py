"""The national wire and the domain, both ways: amounts, credentials, fee lines, dates,
and the answers every transaction code shares (``Answer``, ``Malformed``).

Amounts are yuan strings with exactly two decimals on the way out. On the way in they
are decoded straight from the JSON text into ``Decimal`` (string or number, never
through a float) and refused unless they are whole fen.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
import msgspec
from attrs import frozen

from gongji import clock as beijing
from gongji import jsonwire
from gongji.errors import InvalidInput
from gongji.identity import Credential, CredentialKind
from gongji.model import Category, Coverage, InsuranceKind, InsuranceStatus, LineItem, Person
from gongji.money import ZERO, Fen
from gongji.rules.quote import Quote
from gongji_mock.centre.dataset import CatalogueItem
from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.wire import FeeDetail, GatewayRefusal, RequestEnvelope

T = TypeVar("T")

INSUTYPE = {InsuranceKind.EMPLOYEE: "310", InsuranceKind.RESIDENT: "390"}
INSU_STAS = {InsuranceStatus.ACTIVE: "1", InsuranceStatus.SUSPENDED: "2"}
FUND_PAY_TYPE = {
    InsuranceKind.EMPLOYEE: ("310100", "职工基本医疗保险统筹基金"),
    InsuranceKind.RESIDENT: ("390100", "城乡居民基本医疗保险基金"),
}
_COVERAGE_BY_LEVEL = {"01": Coverage.A, "02": Coverage.B, "03": Coverage.C}


class Malformed(CentreRefusal):
    """The input could not be read: nothing was processed, so the ``msgid`` stays free."""


@frozen
class Answer:
    output: Any  # a struct or a dict of them; encoded once, into the response
    warn_msg: str | None = None
    #: A file handed back as it is (9102), instead of an envelope.
    file: bytes | None = None


def wrapped(**fields: Any) -> dict[str, Any]:
    """An output object with national key names that needs no struct of its own."""
    return fields


def decode_input(envelope: RequestEnvelope, kind: type[T]) -> T:
    """The ``input`` of a message as ``kind``; what does not match is ``Malformed``."""
    try:
        return jsonwire.decode(envelope.input, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise Malformed(
            "输入参数错误",
            f"The input of {envelope.infno} does not match the interface ({exc}); "
            "fix it and send it again. Nothing was processed.",
        ) from None


def credential(kind: str, number: str, card_sn: str | None) -> Credential:
    """The credential a message names, as the centre resolves it: a token (never a QR
    text: ``mdtrt_cert_no`` of type 01 is the ``ecToken``), an ID number, or a card."""
    if kind == CredentialKind.E_VOUCHER:
        shown = Credential.e_voucher(number)  # the shape checks of a scanned text
        return Credential(CredentialKind.E_VOUCHER, shown.value, decoded=True)
    if kind == CredentialKind.ID_NUMBER:
        return Credential.id_card(number)
    if kind == CredentialKind.SOCIAL_CARD:
        if not card_sn:
            raise Malformed(
                "社保卡识别码为空", "mdtrt_cert_type 03 needs card_sn; read the card again."
            )
        # The card's region is not on the wire: the centre knows its cards by number.
        return Credential(CredentialKind.SOCIAL_CARD, number, card_sn)
    raise Malformed(
        "就诊凭证类型错误",
        f"mdtrt_cert_type {kind[:4]!r} is not 01 (e-voucher), 02 (ID number) or 03 (social card).",
    )


def fen(value: decimal.Decimal, name: str) -> Fen:
    """Whole fen from a decimal read off the wire; a fraction of a fen is refused, not rounded."""
    try:
        whole = value.is_finite() and value == value.quantize(
            decimal.Decimal("0.01"), rounding=decimal.ROUND_DOWN
        )
    except decimal.InvalidOperation:  # more digits than the context holds (1E+999999)
        whole = False
    if not whole:
        raise Malformed(
            "金额格式错误",
            f"{name} {str(value)[:40]} is not a whole number of fen; send yuan with at most two decimals.",
        )
    return Fen(int(value.scaleb(2)))


def line_item(
    detail: FeeDetail, catalogue: Mapping[str, CatalogueItem], *, extensions: bool
) -> LineItem:
    """A detail line as the centre reads it: class and category from its catalogue by the
    national code; a code the catalogue does not list is a class-A drug, unless the till
    says otherwise through gongji's extensions. ``cnt`` may hold part of a pack (up to four
    decimals): ``det_item_fee_sumamt`` is then ``cnt x pric`` rounded half up to the fen."""
    listed = catalogue.get(detail.med_list_codg)
    coverage, category = Coverage.A, Category.DRUG
    if listed is not None:
        coverage, category = listed.coverage, listed.category
    elif extensions:
        level = detail.gongji_chrgitm_lv or detail.chrgitm_lv or "01"
        found = _COVERAGE_BY_LEVEL.get(level)
        if found is None:
            raise Malformed("收费项目等级错误", f"chrgitm_lv {level[:4]!r} is not 01, 02 or 03.")
        coverage = found
        category = _category(detail.gongji_category or Category.DRUG.value)
    cnt = detail.cnt
    exponent = cnt.normalize().as_tuple().exponent if cnt.is_finite() else None
    if not isinstance(exponent, int) or cnt <= 0 or exponent < -4:
        raise Malformed(
            "数量错误",
            f"cnt {str(cnt)[:20]} of line {detail.feedetl_sn[:30]!r} must be above 0 with at "
            "most four decimals.",
        )
    price = fen(detail.pric, "pric")
    quantity: int | decimal.Decimal = (
        int(cnt) if cnt == cnt.to_integral_value() else cnt.normalize()
    )
    try:
        item = LineItem(
            code=detail.medins_list_codg or detail.med_list_codg,
            national_code=detail.med_list_codg,
            name=listed.name if listed is not None else detail.gongji_item_name,
            unit_price=price,
            quantity=quantity,
            category=category,
            coverage=coverage,
        )
    except InvalidInput as exc:
        raise Malformed("明细格式错误", f"Line {detail.feedetl_sn[:30]!r}: {exc.message}") from None
    if (
        detail.det_item_fee_sumamt is not None
        and fen(detail.det_item_fee_sumamt, "det_item_fee_sumamt") != item.amount
    ):
        raise Malformed(
            "明细金额与单价乘数量不符",
            f"det_item_fee_sumamt of line {detail.feedetl_sn[:30]!r} is not pric x cnt ({item.amount.to_yuan()}).",
        )
    return item


def _category(value: str) -> Category:
    try:
        return Category(value)
    except ValueError:
        raise Malformed(
            "商品类别错误", f"gongji_category {value[:20]!r} is not a category."
        ) from None


def balance(person: Person) -> Fen:
    return person.account.balance if person.account is not None else ZERO


def legs(quote: Quote, source: str) -> Fen:
    return sum((leg.amount for leg in quote.legs if leg.source == source), ZERO)


def warnings(quote: Quote) -> str | None:
    if not quote.refusals:
        return None
    return "; ".join(f"{r.rule}: {r.reason_zh or r.reason} / {r.reason}" for r in quote.refusals)


def time_text(moment: datetime.datetime) -> str:
    return beijing.wire_time(moment)


def date(text: str, name: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        raise Malformed("日期格式错误", f"{name} must be yyyy-MM-dd.") from None


def json_response(status: int, body: bytes) -> httpx.Response:
    return httpx.Response(
        status, content=body, headers={"content-type": "application/json; charset=utf-8"}
    )


def gateway_refusal(status: int, zh: str, en: str) -> httpx.Response:
    """What the gateway in front of the centre answers, before any message is read."""
    return json_response(
        status, msgspec.json.encode(GatewayRefusal(infcode=-1, err_msg=f"{zh} / {en}"))
    )
