"""The premium channel a region may run beside its centre: a premium paid on behalf.

Not the national interface: it has no premium payment (NATIONAL.md §15), and the seeds
have premiums collected by the insurer or the tax channel (seed 002 l.22). No real
region is known to take one from a till; this is gongji's own small protocol, which the
mock answers (docs/reference/mock-premium.md), sent only where a city profile names the
channel's address (``premium_url``). **Unconfirmed**: a real channel, should a region
open one, will have its own fields, and needs its own module here.

Two messages, JSON over POST, signed like the centre's messages (TIF or CSB):

* ``{premium_url}/pay``: the payer (``psn_no`` and the credential shown), the insured
  relative's ID number, the insurance (``insutype`` 390 resident, 310 employee) and the
  amount (yuan, two decimals). Idempotent by ``msgid``.
* ``{premium_url}/reverse``: undo the payment a ``msgid`` carried (``omsgid``), whose
  answer never came: ``reversed``, ``original_refused`` or ``original_not_received``.

Answers: ``code`` 0 with ``payment`` or ``reversal``; ``code`` -1 with ``message``.
"""

from __future__ import annotations

import decimal
from typing import Any, Protocol, TypeVar

import httpx
import msgspec

import gongji.jsonwire as jsonwire
from gongji import clock as beijing
from gongji.clock import Clock
from gongji.errors import Declined, InvalidInput, SignatureError, Unavailable, UntrustedAnswer
from gongji.gateways import ReversalState
from gongji.gateways.exchange import Flow, exchange
from gongji.gateways.premium import PremiumPaid, PremiumRequest
from gongji.identity import IdNumber, scrub_ids
from gongji.model import Purpose
from gongji_cityins import transform

_T = TypeVar("_T")

#: insutype of the insurance each premium is for.
INSUTYPE = {
    Purpose.RESIDENT_PREMIUM: transform.RESIDENT,
    Purpose.FLEXIBLE_EMPLOYMENT_PREMIUM: transform.EMPLOYEE,
}
_KIND = {code: kind for kind, code in INSUTYPE.items()}
_REVERSAL_STATES: tuple[ReversalState, ...] = (
    "reversed",
    "original_refused",
    "original_not_received",
)


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    """Answer structs: unknown fields are ignored."""


class PaymentOut(_Out, frozen=True, kw_only=True):
    pay_id: str
    payer_certno: str
    insured_certno: str
    insutype: str
    amount: decimal.Decimal
    balc: decimal.Decimal
    pay_time: str = ""


class ReversalOut(_Out, frozen=True, kw_only=True):
    omsgid: str
    state: str
    pay_id: str = ""


class PaymentAnswer(_Out, frozen=True, kw_only=True):
    code: int
    message: str = ""
    payment: PaymentOut | None = None


class ReversalAnswer(_Out, frozen=True, kw_only=True):
    code: int
    message: str = ""
    reversal: ReversalOut | None = None


class _Institution(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def operator(self) -> str: ...


class PremiumChannel:
    """Builds, signs and reads the premium channel's two messages for one institution."""

    name = "cityins premium channel"

    def __init__(
        self, *, url: str, institution: _Institution, auth: httpx.Auth, clock: Clock = beijing.now
    ) -> None:
        self._url = url.rstrip("/")
        self._institution = institution
        self._auth = auth
        self._clock = clock

    def pay(self, request: PremiumRequest, msgid: str) -> Flow[PremiumPaid]:
        credential = request.credential
        body = self._header(msgid) | {
            "psn_no": request.payer_psn_no,
            "mdtrt_cert_type": credential.kind.value,
            "mdtrt_cert_no": transform.cert_no(credential),
            "card_sn": credential.card_sn or "",
            "insured_certno": request.insured.id.number,
            "insutype": INSUTYPE[request.kind],
            "amount": request.amount.to_yuan(),
        }
        answer = yield from self._send("pay", body, PaymentAnswer)
        found = answer.payment
        if found is None:
            raise UntrustedAnswer("The premium channel answered without the payment.")
        return PremiumPaid(
            payment_id=found.pay_id,
            msgid=msgid,
            payer_id=_id(found.payer_certno),
            insured_id=_id(found.insured_certno),
            kind=_kind(found.insutype),
            amount=transform.fen(found.amount, "a premium"),
            balance=transform.fen(found.balc, "a balance"),
            paid_at=beijing.from_wire_time(found.pay_time),
        )

    def reverse(self, original_msgid: str, payer_psn_no: str, msgid: str) -> Flow[ReversalState]:
        body = self._header(msgid) | {"psn_no": payer_psn_no, "omsgid": original_msgid}
        answer = yield from self._send("reverse", body, ReversalAnswer)
        found = answer.reversal
        state = found.state if found is not None else ""
        if state not in _REVERSAL_STATES:
            raise UntrustedAnswer(
                "The premium channel answered the reversal without a state gongji knows."
            )
        known: ReversalState = state
        return known

    def _header(self, msgid: str) -> dict[str, Any]:
        institution = self._institution
        return {
            "msgid": msgid,
            "fixmedins_code": institution.code,
            "fixmedins_name": institution.name,
            "opter": institution.operator,
            "inf_time": beijing.wire_time(self._clock()),
        }

    def _send(self, operation: str, body: dict[str, Any], kind: type[_T]) -> Flow[_T]:
        request = httpx.Request(
            "POST",
            f"{self._url}/{operation}",
            content=msgspec.json.encode(body),
            headers={"Content-Type": "application/json;charset=utf-8"},
        )
        response = yield from exchange(request, self._auth)
        if response.status_code in (401, 403):
            raise SignatureError(
                f"The premium channel refused the gateway signature (HTTP {response.status_code}).",
                next_step="Check the gateway's paasid/secret (TIF) or access key/secret (CSB).",
                gateway=self.name,
            )
        if response.status_code != 200:
            raise Unavailable(
                f"The premium channel answered HTTP {response.status_code}.", gateway=self.name
            )
        try:
            answer = jsonwire.decode(response.content, type=kind)
        except msgspec.DecodeError as error:
            raise Unavailable(
                "The premium channel's answer could not be read.",
                next_step="Treat the outcome as unknown; gongji reverses before anything else.",
                gateway=self.name,
            ) from error
        code = getattr(answer, "code", -1)
        if code != 0:
            message = scrub_ids(str(getattr(answer, "message", "")))[:300]
            raise Declined(
                f"The premium channel refused the {operation}: {message}",
                infcode=str(code),
                err_msg=message,
                gateway=self.name,
                request_id=body["msgid"],
            )
        return answer


def _id(number: str) -> IdNumber:
    try:
        return IdNumber(number)
    except InvalidInput as error:
        raise UntrustedAnswer(
            "The premium channel answered with an ID number that does not validate."
        ) from error


def _kind(insutype: str) -> Purpose:
    found = _KIND.get(insutype)
    if found is None:
        raise UntrustedAnswer(
            "The premium channel answered with an insurance gongji does not know."
        )
    return found
