"""The mock's premium channel: ``POST /gongji-mock/premium/pay`` and ``.../reverse``.

**The mock's own protocol, not the national interface** (which has no premium
payment): it answers what ``gongji_cityins.premium`` sends where a city profile names
a premium channel (docs/reference/mock-premium.md). Each request is checked in this
order, nothing processed until every check before it has passed: the gateway
signature (TIF or CSB, as at the national endpoint; HTTP 401), the body, then the
collector's decision (``gongji_mock.premium.collector``). Amounts are yuan strings with
two decimals, decoded from the JSON text, never through a float.
"""

from __future__ import annotations

import decimal
import hashlib
import threading
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from gongji import clock as beijing
from gongji import jsonwire
from gongji.errors import GongjiError, SignatureError
from gongji.identity import IdNumber
from gongji.model import Purpose
from gongji.signing._common import MemoryNonceCache, NonceCache
from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.gateway import verify_gateway
from gongji_mock.national.people import PersonNumbers
from gongji_mock.national.transform import credential, fen, json_response
from gongji_mock.premium.collector import Collector, PremiumPaid

PREFIX = "/gongji-mock/premium/"
MAX_BODY_BYTES = 100_000

#: insutype -> the premium it pays (390 resident, 310 employee).
KIND_BY_INSUTYPE = {"390": Purpose.RESIDENT_PREMIUM, "310": Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM}
INSUTYPE_BY_KIND = {kind: code for code, kind in KIND_BY_INSUTYPE.items()}


class PayRequest(msgspec.Struct, frozen=True, kw_only=True):
    msgid: str
    fixmedins_code: str
    psn_no: str  # the payer's
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    insured_certno: str
    insutype: str
    amount: decimal.Decimal
    card_sn: str = ""
    fixmedins_name: str = ""
    opter: str = ""
    inf_time: str = ""


class ReverseRequest(msgspec.Struct, frozen=True, kw_only=True):
    msgid: str
    fixmedins_code: str
    psn_no: str
    omsgid: str
    fixmedins_name: str = ""
    opter: str = ""
    inf_time: str = ""


class PremiumEndpoint:
    """The premium channel over one ``Collector``. Call it with an ``httpx.Request``."""

    def __init__(
        self,
        collector: Collector,
        people: PersonNumbers,
        *,
        lock: threading.RLock,
        secrets_by_paasid: Mapping[str, str],
        secrets_by_access_key: Mapping[str, str] | None = None,
        tolerance_seconds: int = 300,
        nonce_cache: NonceCache | None = None,
    ) -> None:
        self.collector = collector
        self._people = people
        self.lock = lock  # the centre's: a premium moves the same ledger as a settlement
        self._secrets = dict(secrets_by_paasid)
        self._csb_secrets = dict(secrets_by_access_key or {})
        self._tolerance = tolerance_seconds
        self._nonces: NonceCache = nonce_cache if nonce_cache is not None else MemoryNonceCache()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        operation = request.url.path.removeprefix(PREFIX)
        if request.method != "POST" or operation not in ("pay", "reverse"):
            return _answer(404, code=-1, message=f"Use POST {PREFIX}pay or {PREFIX}reverse.")
        try:
            verify_gateway(
                request,
                tif_secrets=self._secrets,
                csb_secrets=self._csb_secrets,
                now=self.collector.centre.clock().timestamp(),
                tolerance_seconds=self._tolerance,
                nonce_cache=self._nonces,
            )
        except SignatureError as exc:
            return _answer(401, code=-1, message=f"网关签名校验失败 / {exc} Nothing was processed.")
        if len(request.content) > MAX_BODY_BYTES:
            return _answer(
                413, code=-1, message="报文过大 / The body is too large; nothing was processed."
            )
        with self.lock:
            try:
                if operation == "pay":
                    return self._pay(request.content)
                return self._reverse(request.content)
            except CentreRefusal as refused:
                return _answer(200, code=-1, message=refused.err_msg)
            except GongjiError as error:  # a bad ID number, credential or amount in the body
                return _answer(
                    200, code=-1, message=f"输入参数错误 / {error} Nothing was processed."
                )

    def _pay(self, body: bytes) -> httpx.Response:
        asked = _decode(body, PayRequest)
        kind = KIND_BY_INSUTYPE.get(asked.insutype)
        if kind is None:
            raise CentreRefusal(
                "险种类型错误", "insutype must be 390 (resident) or 310 (employee)."
            )
        payer = self._people.person(asked.psn_no)
        presented = credential(asked.mdtrt_cert_type, asked.mdtrt_cert_no, asked.card_sn or None)
        resolved = self.collector.centre.resolve(presented)
        if resolved.id != payer.id:
            raise CentreRefusal(
                "凭证与人员编号不符", "The credential is not the psn_no's own; nothing was paid."
            )
        paid = self.collector.pay(
            msgid=asked.msgid,
            fingerprint=_fingerprint(body),
            fixmedins_code=asked.fixmedins_code,
            credential=presented,
            insured_id=IdNumber(asked.insured_certno),
            kind=kind,
            amount=fen(asked.amount, "amount"),
        )
        return _answer(200, code=0, payment=self._payment_out(paid))

    def _reverse(self, body: bytes) -> httpx.Response:
        asked = _decode(body, ReverseRequest)
        payer = self._people.person(asked.psn_no)
        state, pay_id = self.collector.reverse(asked.omsgid, payer.id)
        return _answer(
            200, code=0, reversal={"omsgid": asked.omsgid, "state": state, "pay_id": pay_id}
        )

    def _payment_out(self, paid: PremiumPaid) -> dict[str, Any]:
        balance = self.collector.centre.ledger.balance(paid.payer)
        return {
            "pay_id": paid.pay_id,
            "msgid": paid.msgid,
            "payer_certno": paid.payer.number,
            "insured_certno": paid.insured.number,
            "insutype": INSUTYPE_BY_KIND[paid.kind],
            "amount": paid.amount.to_yuan(),
            "balc": balance.to_yuan(),
            "pay_time": beijing.wire_time(paid.paid_at),
        }


def _decode(body: bytes, kind: type[Any]) -> Any:
    try:
        return jsonwire.decode(body, type=kind)
    except msgspec.DecodeError as exc:
        raise CentreRefusal(
            "报文格式错误", f"The body cannot be read ({exc}); nothing was processed."
        ) from None


def _fingerprint(body: bytes) -> str:
    """What "the same message" means: the body without the time it was stamped with."""
    try:
        fields = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return hashlib.sha256(body).hexdigest()
    if isinstance(fields, dict):
        fields.pop("inf_time", None)
    return hashlib.sha256(msgspec.json.encode(fields, order="sorted")).hexdigest()


def _answer(status: int, **fields: Any) -> httpx.Response:
    return json_response(status, msgspec.json.encode(fields))
