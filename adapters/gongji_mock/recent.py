"""The mock's recent requests: what each POS call asked and how the mock answered, for the
dashboard and ``GET /gongji-admin/requests``.

A bounded ring (the newest ``size`` requests), each reduced to what a developer rehearsing
failures needs: the protocol, the code (infno, Alipay method or WeChat path), the HTTP
status, a verdict, the faults applied, and the gateway's own words. No body is kept: a
request or an answer may carry a full ID number or a payment code, so only the answer's
result fields are read, and any ID-like run of digits in them is masked.
"""

from __future__ import annotations

import collections
import itertools
import re
import threading
from collections.abc import Iterable
from typing import Any, Literal

import httpx
import msgspec
from attrs import frozen

from gongji import clock as beijing
from gongji.identity import mask_id

Verdict = Literal["answered", "declined", "failed", "no_answer"]

#: An ID number or a payment code (WeChat 18 digits, Alipay 16 to 24) inside free text.
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{15,24}[0-9Xx]?(?![0-9])")
MESSAGE_CHARS = 300


@frozen
class RequestRecord:
    number: int
    at: str  # ISO 8601, Beijing time, wall clock (the mock's clock may be skewed by a fault)
    method: str
    target: str  # national, wechatpay, alipay, or * for a path the mock does not serve
    code: str
    status: int | None  # None: the connection was cut (timeout or dropped-answer fault)
    verdict: Verdict
    result: str  # infcode, WeChat error code, Alipay code and sub_code, or HTTP status
    message: str
    faults: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "at": self.at,
            "method": self.method,
            "target": self.target,
            "code": self.code,
            "status": self.status,
            "verdict": self.verdict,
            "result": self.result,
            "message": self.message,
            "faults": list(self.faults),
        }


class RecentRequests:
    """The newest ``size`` requests the mock answered (or did not). Thread-safe."""

    def __init__(self, size: int = 200) -> None:
        self.size = size
        self._records: collections.deque[RequestRecord] = collections.deque(maxlen=size)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        """How many requests were recorded since the mock started (kept or not)."""
        with self._lock:
            return self._records[-1].number if self._records else 0

    def record(
        self,
        request: httpx.Request,
        target: str,
        code: str,
        response: httpx.Response | None,
        faults: Iterable[str] = (),
    ) -> RequestRecord:
        verdict, result, message = _judge(target, response)
        at = beijing.now().isoformat(timespec="milliseconds")
        with self._lock:
            record = RequestRecord(
                number=next(self._numbers),
                at=at,
                method=request.method,
                target=target,
                code=scrub(code)[:80],
                status=None if response is None else response.status_code,
                verdict=verdict,
                result=scrub(result)[:60],
                message=scrub(message)[:MESSAGE_CHARS],
                faults=tuple(sorted(faults)),
            )
            self._records.append(record)
        return record

    def records(self, limit: int | None = None) -> list[RequestRecord]:
        """The newest first, at most ``limit``."""
        with self._lock:
            newest = list(reversed(self._records))
        return newest if limit is None else newest[: max(limit, 0)]


def scrub(text: str) -> str:
    """Free text without a full ID number or payment code in it."""
    return _DIGIT_RUN.sub(lambda found: mask_id(found.group(0)), text)


class _National(msgspec.Struct):
    infcode: int | None = None
    err_msg: str | None = None


class _Error(msgspec.Struct):
    """An error body: WeChat Pay's ``code``/``message``, the TIF gateway's ``err_msg``, the mock's ``error``."""

    code: str | None = None
    error: str | None = None
    message: str | None = None
    err_msg: str | None = None


class _AlipayContent(msgspec.Struct):
    code: str = ""
    msg: str = ""
    sub_code: str = ""
    sub_msg: str = ""


# Alipay: 10000 success, 10003 waiting for the buyer (an answer, not a refusal).
_ALIPAY_ANSWERED = frozenset({"10000", "10003"})


def _judge(target: str, response: httpx.Response | None) -> tuple[Verdict, str, str]:
    """(verdict, result, message) from the answer's result fields only."""
    if response is None:
        return (
            "no_answer",
            "",
            "The connection was cut before an answer: the client sees a timeout.",
        )
    status = response.status_code
    try:
        body = response.content
    except httpx.ResponseNotRead:
        body = b""
    try:
        if target == "national" and status == 200:
            national = msgspec.json.decode(body, type=_National)
            if national.infcode == 0:
                return "answered", "infcode 0", ""
            return "declined", f"infcode {national.infcode}", national.err_msg or ""
        if target == "alipay" and status == 200:
            return _judge_alipay(body)
        if status >= 400:
            error = msgspec.json.decode(body, type=_Error)
            result = f"HTTP {status} {error.code or error.error or ''}".strip()
            return _by_status(status), result, error.message or error.err_msg or ""
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    return _by_status(status), f"HTTP {status}", ""


def _by_status(status: int) -> Verdict:
    return "failed" if status >= 500 else "declined" if status >= 400 else "answered"


def _judge_alipay(body: bytes) -> tuple[Verdict, str, str]:
    # {"alipay_trade_pay_response": {...}, "sign": "..."}: the one *_response member matters.
    members = msgspec.json.decode(body, type=dict[str, msgspec.Raw])
    raw = next((v for k, v in members.items() if k.endswith("_response")), None)
    if raw is None:
        return "answered", "HTTP 200", ""
    content = msgspec.json.decode(raw, type=_AlipayContent)
    if content.code in _ALIPAY_ANSWERED:
        return "answered", content.code, ""
    result = f"{content.code} {content.sub_code}".strip()
    return "declined", result, content.sub_msg or content.msg
