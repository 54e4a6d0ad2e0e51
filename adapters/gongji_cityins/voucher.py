"""The national e-voucher terminal service as an e-voucher decoder (``national-terminal``).

The till gives the scanned QR text to the national e-voucher service on its own machine
(医保业务综合服务终端 / the e-voucher library behind a local HTTP interface), transaction
``ec.query`` (NATIONAL.md §5, S2, S9). What is known, and what is a setting:

- the request wraps the input as ``{"orgId", "transType": "ec.query", "data": {...}}``
  with ``orgId`` (the institution code), ``businessType`` (the use-code business type),
  ``operatorId``, ``operatorName``, ``officeId``, ``officeName`` and, at a kiosk only,
  ``deviceType`` (S2 ``EcQueryInput``);
- the answer is ``{"code": 0, "message", "data": {"ecToken", "idNo", "idType",
  "userName", "insuOrg", ...}}`` (S9 ``RESP_MedicalDecode``);
- **unconfirmed**, so settings with documented defaults: the service's URL (``url``),
  the ``businessType`` of a pharmacy purchase (``business_type``, default ``01301``),
  and the field that carries the QR text when the till scanned it itself
  (``qr_field``, default ``ecQrCode``, the name the answer of S9 has for it).

Sans-I/O like every adapter: ``decode`` is a flow that yields the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import msgspec
from attrs import frozen

from gongji import jsonwire
from gongji.errors import ConfigError, Declined, InvalidInput, Unavailable, UntrustedAnswer
from gongji.gateways.exchange import Flow, exchange
from gongji.gateways.voucher import DecodedVoucher
from gongji.identity import IdNumber
from gongji_cityins.gateway import _scrub

__all__ = ["NationalTerminalDecoder", "TerminalSettings"]

TRANS_TYPE = "ec.query"


@frozen
class TerminalSettings:
    """A profile's ``[decoder]`` table for the national terminal service."""

    url: str
    org_id: str  # the institution code (fixmedins_code)
    operator_id: str = "001"
    operator_name: str = "收银员"
    office_id: str = ""
    office_name: str = ""
    business_type: str = "01301"  # unconfirmed: the use-code business type of a purchase
    device_type: str = ""  # "SelfService" at a kiosk, else empty (S2)
    qr_field: str = "ecQrCode"  # unconfirmed: where the QR text goes in ``data``


class _Holder(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    ec_token: str = ""  # ecToken ...: the service's names, in camel case
    id_no: str = ""
    id_type: str = "01"
    user_name: str = ""
    insu_org: str = ""


class _Answer(msgspec.Struct, frozen=True, kw_only=True):
    code: int | str | None = None  # 0 or "0" is success (both seen in JSON answers)
    message: str = ""
    data: _Holder | None = None


class NationalTerminalDecoder:
    """``gongji.gateways.VoucherDecoder`` over the national terminal service's HTTP interface."""

    name = "national-terminal"

    def __init__(self, settings: TerminalSettings) -> None:
        self.settings = settings

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], config_dir: Path | None = None
    ) -> NationalTerminalDecoder:
        names = {a.name for a in TerminalSettings.__attrs_attrs__}
        unknown = sorted(set(settings) - names)
        if unknown or not all(isinstance(value, str) for value in settings.values()):
            raise ConfigError(
                f"The decoder settings {', '.join(unknown) or 'given'} are not understood.",
                next_step=f"Use text values for: {', '.join(sorted(names))} "
                "(docs/reference/config.md).",
            )
        if not settings.get("url") or not settings.get("org_id"):
            raise ConfigError(
                "The national-terminal decoder needs url and org_id.",
                next_step="Set decoder.url to the terminal service's address on this till and "
                "decoder.org_id to the institution code.",
            )
        return cls(TerminalSettings(**settings))

    def __repr__(self) -> str:
        return f"NationalTerminalDecoder(url={self.settings.url!r})"

    def request(self, qr_text: str) -> httpx.Request:
        s = self.settings
        data = {
            "orgId": s.org_id,
            "businessType": s.business_type,
            "operatorId": s.operator_id,
            "operatorName": s.operator_name,
            "officeId": s.office_id,
            "officeName": s.office_name,
            s.qr_field: qr_text,
        }
        if s.device_type:
            data["deviceType"] = s.device_type
        body = {"orgId": s.org_id, "transType": TRANS_TYPE, "data": data}
        return httpx.Request(
            "POST",
            s.url,
            content=msgspec.json.encode(body),
            headers={"Content-Type": "application/json;charset=utf-8"},
        )

    def decode(self, qr_text: str) -> Flow[DecodedVoucher]:
        response = yield from exchange(self.request(qr_text))
        return read_answer(response, self.name)


def read_answer(response: httpx.Response, source: str) -> DecodedVoucher:
    """The decode's answer: the token and whom it names, or ``Declined`` in its words."""
    if response.status_code >= 500 or response.status_code == 429:
        raise Unavailable(f"The e-voucher service answered HTTP {response.status_code}.")
    try:
        answer = jsonwire.decode(response.content, type=_Answer)
    except msgspec.DecodeError as error:
        raise Unavailable(
            f"The e-voucher service's answer could not be read (HTTP {response.status_code}).",
            next_step="Check that the service runs on this till, then scan again.",
        ) from error
    if str(answer.code) != "0" or answer.data is None:
        raise Declined(
            f"The e-voucher could not be decoded: {_scrub(answer.message)[:200]}",
            next_step="Ask the patient to refresh the e-voucher in the app and scan it again; "
            "nothing was sent to the centre.",
            gateway=source,
        )
    found = answer.data
    try:
        decoded = DecodedVoucher(
            ec_token=found.ec_token,
            holder=IdNumber(found.id_no),
            name=found.user_name,
            region=found.insu_org,
            id_type=found.id_type or "01",
        )
        decoded.credential()  # the token and the region as 1101 takes them
    except InvalidInput as error:
        raise UntrustedAnswer(
            f"The e-voucher service's answer is not usable: {error.message}",
            next_step="Scan again; if it repeats, report it to the service's vendor.",
        ) from None
    return decoded
