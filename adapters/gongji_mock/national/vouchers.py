"""The mock's e-voucher QR codes and its decode endpoint (``ec.query``).

A patient's app shows a QR code; the till hands its text to the e-voucher service, which
answers the ``ecToken`` and whom it names (NATIONAL.md §5). The mock plays both: it issues
QR texts (``qr_text``) that decode to the centre's tokens, and answers ``ec.query`` at
``EC_QUERY_PATH`` in the national terminal service's shape (request ``{"orgId",
"transType": "ec.query", "data": {..., "ecQrCode"}}``, answer ``{"code": 0, "message",
"data": {"ecToken", "idNo", "idType", "userName", "insuOrg"}}``), so that the
``national-terminal`` decoder of ``gongji_cityins`` rehearses against it unchanged.

An issued QR text is ``GJQR`` and the token in base64url: it is not a token, and 1101
refuses it by name. A dataset's fixed test token (``e_voucher = "..."``) is also a QR text
that decodes to itself, so that hand-written envelopes can use it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx
import msgspec

from gongji import jsonwire
from gongji_cityins.voucher import NationalTerminalDecoder, TerminalSettings
from gongji_mock.centre.decisions import Centre, CentreRefusal

EC_QUERY_PATH = "/ec/query"
QR_PREFIX = "GJQR"
#: The field of ``data`` that carries the QR text (the national-terminal decoder's default).
QR_FIELD = "ecQrCode"


def qr_text(token: str) -> str:
    """The QR text the patient's app shows for the centre's ``token``."""
    return QR_PREFIX + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def token_of(text: str) -> str | None:
    """The token a QR text decodes to; None when it is no QR text of this mock."""
    if not text.startswith(QR_PREFIX):
        return text  # a dataset's fixed test token decodes to itself
    body = text[len(QR_PREFIX) :]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def is_qr_text(value: str) -> bool:
    """Whether ``value`` is a QR text this mock issued (never a token)."""
    return value.startswith(QR_PREFIX)


# ---------------------------------------------------------------- ec.query


class _Query(msgspec.Struct, kw_only=True):
    orgId: str = ""
    transType: str = ""
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class VoucherEndpoint:
    """``POST /ec/query``: the e-voucher service's decode, over the centre's tokens."""

    def __init__(self, centre: Centre) -> None:
        self.centre = centre

    def __call__(self, request: httpx.Request) -> httpx.Response:
        try:
            query = jsonwire.decode(request.content, type=_Query)
        except msgspec.DecodeError:
            return _answer(-1, "请求报文格式错误 / The request is not an ec.query JSON object.")
        if query.transType != "ec.query" or not query.orgId:
            return _answer(-1, "交易类型错误 / Send transType ec.query with the orgId.")
        text = query.data.get(QR_FIELD)
        token = token_of(text) if isinstance(text, str) else None
        if token is None:
            return _answer(-1, f"二维码无效 / {QR_FIELD} is missing or not an e-voucher QR code.")
        try:
            person = self.centre.token_holder(token, valid_only=False)
        except CentreRefusal as refused:
            return _answer(-1, refused.err_msg)
        return _answer(
            0,
            "成功",
            {
                "ecToken": token,
                "idNo": person.id.number,
                "idType": "01",
                "userName": person.name,
                "insuOrg": person.insurance.region or person.id.region,
            },
        )


def _answer(code: int, message: str, data: dict[str, Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return httpx.Response(
        200,
        content=msgspec.json.encode(body),
        headers={"content-type": "application/json; charset=utf-8"},
    )


class MockVoucherDecoder(NationalTerminalDecoder):
    """The decoder of a till rehearsing against the mock: the ``national-terminal``
    decoder pointed at the mock's ``ec.query``."""

    name = "mock"

    @classmethod
    def at(cls, base_url: str, org_id: str) -> MockVoucherDecoder:
        """The decoder for the mock at ``base_url`` (in process or served)."""
        return cls(TerminalSettings(url=base_url.rstrip("/") + EC_QUERY_PATH, org_id=org_id))
