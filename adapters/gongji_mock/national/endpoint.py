"""The mock centre's national-envelope endpoint: ``POST /fsi/api/rsfComIfsService/callService``.

One endpoint for every transaction code, as the national interface for designated
institutions has it (docs/reference/mock-national.md). Each request is checked in
this order, and nothing is processed until every check before it has passed:

1. the TIF gateway headers (HTTP 401 when they do not verify; the body is not read);
2. the envelope (``msgspec``, unknown fields tolerated: real clients send extras);
3. the sign-in number (``sign_no`` from 9001), except for 9001 itself: one of this
   institution, not ended by 9002 and, where sign-ins last a day (the default), made on
   the centre's Beijing day;
4. the message id: a ``msgid`` seen before replays the first response byte for byte
   when the content is the same, and is refused when it differs; a ``msgid`` that a
   2601 reversal named is refused, so a late original can never settle;
5. the transaction code's own input, translated to the domain (``Purchase``), and
   the centre's decision (``Centre``), which is the authority whatever a client claims.

Amounts are yuan strings with exactly two decimals on the way out. On the way in
they are decoded straight from the JSON text into ``Decimal`` (string or number,
never through a float) and refused unless they are whole fen.

Everything not in the national interface is a gongji extension and carries the
``gongji_`` prefix (fields) or the ``X`` prefix (the transaction code X101).
"""

from __future__ import annotations

import decimal
import hashlib
import threading
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import msgspec

from gongji import clock as beijing
from gongji import jsonwire
from gongji.errors import GongjiError, SignatureError
from gongji.identity import IdNumber
from gongji.signing._common import MemoryNonceCache, NonceCache
from gongji_mock.centre.decisions import Centre, CentreRefusal
from gongji_mock.national import (
    catalogue,
    chronic,
    person,
    reversal,
    risk,
    settlement,
    signin,
    statement,
    traceability,
    visits,
)
from gongji_mock.national.gateway import verify_gateway
from gongji_mock.national.office import Handler, Office
from gongji_mock.national.people import DEFAULT_PSN_KEY, PersonNumbers, pooling_region
from gongji_mock.national.records import NationalRecords, Seen, SignIn
from gongji_mock.national.schema import (
    DATA_NODES,
    PharmacyNodes,
    check_envelope,
    check_request,
    requests,
)
from gongji_mock.national.transform import Answer, Malformed, gateway_refusal, json_response
from gongji_mock.national.wire import RequestEnvelope, ResponseEnvelope
from gongji_mock.records import Table

PATH = "/fsi/api/rsfComIfsService/callService"

#: How long a sign-in lasts (NATIONAL.md §4 leaves it unconfirmed): until the end of its
#: Beijing day or until 9002 ("day", the default: what public clients expect), or until
#: 9002 alone ("sign_out").
SignInLasts = Literal["day", "sign_out"]

MAX_BODY_BYTES = 1_000_000  # a basket is a few kilobytes; a megabyte is a client bug or an attack

#: What each transaction code after sign-in (9001) does.
HANDLERS: dict[str, Handler] = {
    "9002": signin.sign_out,
    "1101": person.person_info,
    "1312": catalogue.query,
    person.BINDINGS_INFNO: person.bindings,
    "2101": settlement.pre_settle,
    "2102": settlement.settle,
    "2103": settlement.cancel,
    "2201": visits.register,
    "2202": visits.cancel_registration,
    "2203": visits.diagnose,
    "2204": visits.upload_fees,
    "2205": visits.withdraw_fees,
    "2206": settlement.pre_settle,
    "2207": settlement.settle,
    "2208": settlement.cancel,
    "2601": reversal.reverse,
    "3201": statement.day_totals,
    "3202": statement.day_details,
    "3301": catalogue.map_items,
    "9101": statement.upload,
    "9102": statement.download,
    chronic.INFNO: chronic.registrations,
    "3505": traceability.sale_upload,
    "3506": traceability.return_upload,
    "3101": risk.analyse,
    "3102": risk.analyse,
}


class NationalEndpoint:
    """The national interface over one ``Centre``. Call it with an ``httpx.Request``.

    ``secrets_by_paasid`` are the TIF callers the gateway knows. The clock is the
    centre's, so tests that move the centre's time move the gateway's replay window too,
    and the day a sign-in ends (``sign_in_lasts``, a public attribute a test may change).
    """

    def __init__(
        self,
        centre: Centre,
        *,
        secrets_by_paasid: Mapping[str, str],
        secrets_by_access_key: Mapping[str, str] | None = None,
        tolerance_seconds: int = 300,
        nonce_cache: NonceCache | None = None,
        psn_key: bytes = DEFAULT_PSN_KEY,
        extensions: bool = False,
        nodes: PharmacyNodes = DATA_NODES,
        sign_in_lasts: SignInLasts = "day",
    ) -> None:
        self.centre = centre
        self.sign_in_lasts: SignInLasts = sign_in_lasts
        self._secrets = dict(secrets_by_paasid)
        self._csb_secrets = dict(secrets_by_access_key or {})  # CSB callers, by access key
        self._tolerance = tolerance_seconds
        self._nonces: NonceCache = nonce_cache if nonce_cache is not None else MemoryNonceCache()
        self.records = NationalRecords()
        self.extensions = extensions
        self.nodes = nodes
        self._office = Office(
            centre,
            PersonNumbers(centre, psn_key),
            self.records,
            extensions=extensions,
            nodes=nodes,
        )
        #: The national catalogue the centre serves (1312) and the mappings it took (3301).
        self.catalogue = self._office.catalogue
        #: The rule set of 3101/3102 and the people flagged for them (``risk.RiskRules``).
        self.risk = self._office.risk
        # One message at a time: it holds the lock for as long as it changes the centre.
        self.lock = threading.RLock()

    @property
    def people(self) -> PersonNumbers:
        """The centre's person numbers, as this endpoint gives them (1101)."""
        return self._office.people

    def psn_no(self, number: IdNumber | str) -> str:
        """The opaque person number (``psn_no``) the centre gives this ID number."""
        return self._office.people.psn_no(number)

    def tables(self) -> list[Table[Any, Any]]:
        """What the endpoint and its centre remember (``gongji_mock.records``)."""
        return [*self.records.tables(), *self.catalogue.tables(), *self.centre.tables()]

    # ------------------------------------------------------------------ HTTP

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one HTTP request to the national endpoint."""
        if request.url.path != PATH:
            return gateway_refusal(
                404,
                "接口地址不存在",
                f"There is no endpoint {request.url.path[:80]}; use POST {PATH}.",
            )
        if request.method != "POST":
            return gateway_refusal(405, "请求方法错误", f"Use POST {PATH}.")
        try:
            verify_gateway(
                request,
                tif_secrets=self._secrets,
                csb_secrets=self._csb_secrets,
                now=self.centre.clock().timestamp(),
                tolerance_seconds=self._tolerance,
                nonce_cache=self._nonces,
            )
        except SignatureError as exc:
            return gateway_refusal(
                401, "网关签名校验失败，请求未处理", f"{exc} Nothing was processed."
            )
        body = request.content
        if len(body) > MAX_BODY_BYTES:
            return gateway_refusal(
                413, "报文过大", f"The body is over {MAX_BODY_BYTES} bytes; nothing was processed."
            )
        with self.lock:
            return self._message(body)

    def _message(self, body: bytes) -> httpx.Response:
        try:
            envelope = jsonwire.decode(body, type=RequestEnvelope)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return self._respond(
                None,
                error=Malformed(
                    "报文格式错误",
                    f"The envelope cannot be read ({exc}); fix it and send it again. Nothing was processed.",
                ),
            )
        try:
            self._check_envelope(envelope)
            if not self.extensions:
                self._check_interface(envelope, body)
        except CentreRefusal as exc:
            return self._respond(envelope, error=exc)
        fingerprint = _fingerprint(envelope)
        records = self.records
        if envelope.msgid in records.reversed:
            return self._respond(
                envelope,
                error=CentreRefusal(
                    "该报文已被冲正，不予处理",
                    "This msgid was reversed (2601); nothing was processed. Send a new message with a new msgid.",
                ),
            )
        seen = records.seen.get(envelope.msgid)
        if seen is not None:
            if seen.fingerprint == fingerprint:
                return json_response(200, seen.body)
            return self._respond(
                envelope,
                error=CentreRefusal(
                    "报文ID重复且内容不同，不予处理",
                    f"msgid {envelope.msgid[:30]} was already used for a different message "
                    f"(infno {seen.infno}); nothing was processed. Give every new message its own msgid; "
                    "re-send a message unchanged to get its first answer again.",
                ),
            )
        try:
            answer = self._dispatch(envelope)
        except Malformed as exc:
            return self._respond(envelope, error=exc)
        except CentreRefusal as exc:
            response = self._respond(envelope, error=exc)
        except GongjiError as exc:
            response = self._respond(envelope, error=CentreRefusal("交易失败", str(exc)))
        else:
            response = self._respond(envelope, answer=answer)
        records.seen.put(envelope.msgid, Seen(envelope.infno, fingerprint, response.content))
        return response

    def _check_envelope(self, envelope: RequestEnvelope) -> None:
        if not envelope.msgid or len(envelope.msgid) > 30:
            raise Malformed(
                "报文ID错误", "msgid must be 1 to 30 characters; nothing was processed."
            )
        if not envelope.fixmedins_code:
            raise Malformed("定点医药机构编号为空", "Set fixmedins_code; nothing was processed.")
        if envelope.infno == "9001":
            return
        if envelope.infno not in HANDLERS:
            raise Malformed(
                "交易编号不存在",
                f"The mock centre does not know infno {envelope.infno[:8]!r}; "
                "see docs/reference/mock-national.md for the codes it answers.",
            )
        sign_in = self.records.sign_ins.get(envelope.sign_no or "")
        if (
            sign_in is None
            or sign_in.fixmedins_code != envelope.fixmedins_code
            or not self._lasts_today(sign_in)
        ):
            raise Malformed(
                "未签到或签到编号无效，请先签到(9001)",
                "This message carries no valid sign_no; sign in with 9001 and put its sign_no "
                "in every later message. Nothing was processed.",
            )

    def _lasts_today(self, sign_in: SignIn) -> bool:
        """Whether a sign-in still stands by its day: one made on an earlier Beijing day
        ended at midnight where sign-ins last a day (a dateless one, from an old state
        file, until 9002)."""
        if self.sign_in_lasts != "day" or not sign_in.day:
            return True
        return sign_in.day == beijing.day(self.centre.clock()).isoformat()

    def _check_interface(self, envelope: RequestEnvelope, body: bytes) -> None:
        """Strict (no extensions): the message is what NATIONAL.md's tables allow, and its
        ``insuplc_admdvs`` is the patient's region of insurance. Nothing was processed."""
        infno = envelope.infno
        if infno in requests(self.nodes):
            problems = check_request(infno, body, nodes=self.nodes)
        else:
            problems = check_envelope(infno, body)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise Malformed(
                "报文不符合接口规范",
                f"{problems[0]}{more} Send the interface's fields only (NATIONAL.md); "
                "nothing was processed.",
            )
        psn_no = _input_psn_no(envelope)
        if not psn_no:
            return
        try:
            patient = self._office.people.person(psn_no)
        except CentreRefusal:
            return  # the handler refuses an unknown psn_no in its own words
        expected = pooling_region(patient.insurance.region)
        if envelope.insuplc_admdvs != expected:
            raise Malformed(
                "参保地医保区划与人员不符",
                f"insuplc_admdvs is not the patient's region of insurance: send {expected}, "
                "the insuplc_admdvs of the insuinfo entry 1101 gave. Nothing was processed.",
            )

    def _dispatch(self, envelope: RequestEnvelope) -> Answer:
        if envelope.infno == "9001":
            return signin.sign_in(self._office, envelope)
        return HANDLERS[envelope.infno](self._office, envelope)

    def _respond(
        self,
        envelope: RequestEnvelope | None,
        *,
        answer: Answer | None = None,
        error: CentreRefusal | None = None,
    ) -> httpx.Response:
        if answer is not None and answer.file is not None:
            return httpx.Response(
                200, content=answer.file, headers={"content-type": "application/octet-stream"}
            )
        now = self.centre.clock()
        region = (envelope.mdtrtarea_admvs if envelope else None) or "000000"
        seconds = beijing.msgid_time(now)
        stamp = f"{seconds}{now.microsecond // 1000:03d}"
        reply = ResponseEnvelope(
            infcode=-1 if error else 0,
            inf_refmsgid=f"{region[:6]:0>6}{seconds}{self.records.serial.next():010d}",
            refmsg_time=stamp,
            respond_time=stamp,
            err_msg=error.err_msg if error else None,
            warn_msg=answer.warn_msg if answer else None,
            output=answer.output if answer else None,
        )
        return json_response(200, msgspec.json.encode(reply))


_CANONICAL = msgspec.json.Decoder(Any, float_hook=decimal.Decimal)


def _input_psn_no(envelope: RequestEnvelope) -> str:
    """The ``psn_no`` of a message's header node (``data`` and the like), if any."""
    try:
        found = _CANONICAL.decode(envelope.input)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return ""
    if not isinstance(found, dict):
        return ""
    for node in found.values():
        if isinstance(node, dict) and isinstance(node.get("psn_no"), str):
            return str(node["psn_no"])
    return ""


def _fingerprint(envelope: RequestEnvelope) -> str:
    """What "the same message" means: code, institution and input, whatever the key order.

    ``inf_time`` and ``sign_no`` may differ on a retry (a new sign-in, a re-stamped
    envelope); they do not make it another message.
    """
    try:
        canonical = msgspec.json.encode(_CANONICAL.decode(envelope.input), order="sorted")
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # msgspec's other two
        canonical = bytes(envelope.input)
    digest = hashlib.sha256()
    for part in (envelope.infno.encode(), envelope.fixmedins_code.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
