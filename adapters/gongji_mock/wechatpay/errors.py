"""WeChat Pay's error answers, shared by the mock's payment-code and med-ins endpoints.

An error body is ``{"code", "message", "detail"?}``; the mock's message is Chinese,
then English, and says what to do next. Nothing here echoes a request's values.
"""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from gongji import jsonwire
from gongji_mock.wechatpay import wire

_S = TypeVar("_S", bound=msgspec.Struct)


class Refusal(Exception):
    """A WeChat Pay error answer: HTTP status, ``code`` and a Chinese / English message."""

    def __init__(
        self, status: int, code: str, zh: str, en: str, detail: wire.ErrorDetail | None = None
    ) -> None:
        super().__init__(en)
        self.status = status
        self.error = wire.Error(code=code, message=f"{zh} / {en}", detail=detail)


def decode(body: bytes, kind: type[_S]) -> _S:
    """A request body as ``kind``; a bad field is a PARAM_ERROR naming it, bad JSON too."""
    try:
        return jsonwire.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise param_error(
            _field_of(str(exc)), f"{exc}. Amounts are integer fen (JSON integers, never decimals)."
        ) from None
    except msgspec.DecodeError:
        raise Refusal(
            400,
            "PARAM_ERROR",
            "请求体不是合法的 JSON",
            "The body is not JSON; send the exact bytes that were signed. Nothing was processed.",
        ) from None


def _field_of(message: str) -> str:
    found = re.search(r"at `\$\.([^`]+)`", message)
    where = found[1] if found else ""
    missing = re.search(r"missing required field `([^`]+)`", message)
    if missing:
        return f"{where}.{missing[1]}" if where else missing[1]
    return where or "body"


def param_error(field: str, en: str, *, zh: str = "参数错误") -> Refusal:
    return Refusal(
        400,
        "PARAM_ERROR",
        zh,
        f"{en} Nothing was processed.",
        detail=wire.ErrorDetail(field=field, location="body", issue=en),
    )
