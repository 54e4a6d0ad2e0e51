"""The mock centre's national-envelope endpoint: ``POST /fsi/api/rsfComIfsService/callService``.

One endpoint for every transaction code, as the national interface for designated
institutions has it (docs/reference/mock-national.md). Each request is checked in
this order, and nothing is processed until every check before it has passed:

1. the TIF gateway headers (HTTP 401 when they do not verify; the body is not read);
2. the envelope (``msgspec``, unknown fields tolerated: real clients send extras);
3. the sign-in number (``sign_no`` from 9001), except for 9001 itself;
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

import datetime
import decimal
import hashlib
import hmac
import itertools
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
import msgspec
from attrs import define, field, frozen

from gongji import jsonwire
from gongji.errors import GongjiError, SignatureError
from gongji.identity import Credential, CredentialKind, IdNumber
from gongji.model import (
    Coverage,
    InsuranceKind,
    InsuranceStatus,
    LineItem,
    Person,
    Purchase,
    Quote,
    Setting,
)
from gongji.money import ZERO, Fen, Rounding
from gongji.signing._common import MemoryNonceCache, NonceCache
from gongji.signing.tif import verify_tif_headers
from gongji_mock.centre import (
    Centre,
    CentreRefusal,
    CentreState,
    LineItemRow,
    Settlement,
    SettlementRow,
    TokenRow,
    line_item,
    line_item_row,
)
from gongji_mock.ledger import TransactionRow
from gongji_mock.national_wire import (
    BaseInfo,
    BindingOut,
    BindingsQuery,
    CancelData,
    Data,
    FeeDetail,
    FeeResult,
    FeeUploadInput,
    GatewayRefusal,
    InsuInfo,
    MulaidDetail,
    PersonQuery,
    RefusalOut,
    RegistrationData,
    RequestEnvelope,
    ResponseEnvelope,
    ReversalData,
    SetlDetail,
    SetlInfo,
    SettleData,
    SettleInput,
    SettlementOut,
    SignInInput,
    SignInOut,
    SignOutInput,
    SignOutOut,
    StatementData,
    StatementDetail,
    StatementTotals,
    _Out,
)

PATH = "/fsi/api/rsfComIfsService/callService"

#: gongji extension (not in the national interface): a beneficiary's mutual-aid bindings.
BINDINGS_INFNO = "X101"

#: Settlement messages a 2601 reversal may undo in this mock.
REVERSIBLE = frozenset({"2102", "2207"})

MAX_BODY_BYTES = 1_000_000  # a basket is a few kilobytes; a megabyte is a client bug or an attack

#: The default key for person numbers: fixed, so that a dataset's ``psn_no`` are stable
#: across runs of the mock. Pass another ``psn_key`` to change them.
DEFAULT_PSN_KEY = b"gongji-mock psn_no v1"

T = TypeVar("T")

_INSUTYPE = {InsuranceKind.EMPLOYEE: "310", InsuranceKind.RESIDENT: "390"}
_INSU_STAS = {InsuranceStatus.ACTIVE: "1", InsuranceStatus.SUSPENDED: "2"}
_COVERAGE_BY_LEVEL = {"01": Coverage.A, "02": Coverage.B, "03": Coverage.C}
_FUND_PAY_TYPE = {
    InsuranceKind.EMPLOYEE: ("310100", "职工基本医疗保险统筹基金"),
    InsuranceKind.RESIDENT: ("390100", "城乡居民基本医疗保险基金"),
}


class _Malformed(CentreRefusal):
    """The input could not be read: nothing was processed, so the ``msgid`` stays free."""


@frozen
class _SignIn:
    fixmedins_code: str
    opter_no: str


@frozen
class _Seen:
    """A message that reached its transaction code: what it said and what was answered."""

    infno: str
    fingerprint: str
    body: bytes


@define
class _Visit:
    """An outpatient visit (2201) and the fee lines uploaded for it (2204)."""

    psn_no: str
    patient: IdNumber
    fixmedins_code: str
    items: list[tuple[str, LineItem]] = field(factory=list)  # (feedetl_sn, item)
    setl_id: str | None = None


@frozen
class _Settled:
    """What the endpoint knows about a settlement beyond the centre's record."""

    fixmedins_code: str
    msgid: str
    mdtrt_id: str
    psn_no: str
    setl_time: str
    output: SettlementOut


@frozen
class _Answer:
    output: Any  # a struct or a dict of them; encoded once, into the response
    warn_msg: str | None = None


class NationalEndpoint:
    """The national interface over one ``Centre``. Call it with an ``httpx.Request``.

    ``secrets_by_paasid`` are the TIF callers the gateway knows. The clock is the
    centre's, so tests that move the centre's time move the gateway's replay window too.
    """

    def __init__(
        self,
        centre: Centre,
        *,
        secrets_by_paasid: Mapping[str, str],
        tolerance_seconds: int = 300,
        nonce_cache: NonceCache | None = None,
        psn_key: bytes = DEFAULT_PSN_KEY,
    ) -> None:
        self.centre = centre
        self._secrets = dict(secrets_by_paasid)
        self._tolerance = tolerance_seconds
        self._nonces: NonceCache = nonce_cache if nonce_cache is not None else MemoryNonceCache()
        self._psn_key = psn_key
        self._psn_by_id: dict[IdNumber, str] = {}
        self._id_by_psn: dict[str, IdNumber] = {}
        for number, person in centre.dataset.people.items():
            psn_no = self._derive_psn_no(number, person.insurance.region)
            if psn_no in self._id_by_psn:
                raise GongjiError(
                    "Two people of the dataset got the same psn_no.",
                    next_step="Start the mock with another psn_key.",
                )
            self._psn_by_id[number] = psn_no
            self._id_by_psn[psn_no] = number
        self._lock = threading.RLock()
        self._sign_ins: dict[str, _SignIn] = {}
        self._seen: dict[str, _Seen] = {}
        self._reversed: set[str] = set()  # msgids named by a 2601
        self._reversals: dict[tuple[str, str], bytes] = {}  # (omsgid, oinfno) -> first output
        self._settle_by_msgid: dict[str, str] = {}
        self._settled: dict[str, _Settled] = {}
        self._visits: dict[str, _Visit] = {}
        self._serial = itertools.count(1)
        self._handlers: dict[str, Callable[[RequestEnvelope], _Answer]] = {
            "9002": self._sign_out,
            "1101": self._person_info,
            BINDINGS_INFNO: self._bindings,
            "2101": self._pre_settle,
            "2102": self._settle,
            "2103": self._cancel,
            "2201": self._register,
            "2204": self._upload_fees,
            "2206": self._pre_settle,
            "2207": self._settle,
            "2208": self._cancel,
            "2601": self._reverse,
            "3201": self._day_totals,
            "3202": self._day_details,
        }

    # ------------------------------------------------------------------ who is who

    def psn_no(self, number: IdNumber | str) -> str:
        """The opaque person number (``psn_no``) the centre gives this ID number."""
        found = self._psn_by_id.get(IdNumber(number))
        if found is None:
            raise CentreRefusal("未查询到参保人员信息", "No insured person with this ID number.")
        return found

    def _derive_psn_no(self, number: IdNumber, region: str) -> str:
        # A keyed hash: stable for a dataset and key, and not the ID number, which the
        # national interface keeps apart from the person number.
        digest = hmac.new(self._psn_key, number.number.encode(), hashlib.sha256).digest()
        return f"{region or number.region}{int.from_bytes(digest[:8], 'big') % 10**14:014d}"

    def _person_by_psn(self, psn_no: str) -> Person:
        number = self._id_by_psn.get(psn_no)
        if number is None:
            raise CentreRefusal(
                "人员编号不存在",
                "There is no person with this psn_no; query the person with 1101 first and use its psn_no.",
            )
        return self.centre.person(number)

    # ------------------------------------------------------------------ HTTP

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one HTTP request to the national endpoint."""
        if request.url.path != PATH:
            return _refusal(
                404,
                "接口地址不存在",
                f"There is no endpoint {request.url.path[:80]}; use POST {PATH}.",
            )
        if request.method != "POST":
            return _refusal(405, "请求方法错误", f"Use POST {PATH}.")
        try:
            verify_tif_headers(
                request.headers,
                secrets_by_paasid=self._secrets,
                now=self.centre.clock().timestamp(),
                tolerance_seconds=self._tolerance,
                nonce_cache=self._nonces,
            )
        except SignatureError as exc:
            return _refusal(401, "网关签名校验失败，请求未处理", f"{exc} Nothing was processed.")
        body = request.content
        if len(body) > MAX_BODY_BYTES:
            return _refusal(
                413, "报文过大", f"The body is over {MAX_BODY_BYTES} bytes; nothing was processed."
            )
        with self._lock:
            return self._message(body)

    def _message(self, body: bytes) -> httpx.Response:
        try:
            envelope = jsonwire.decode(body, type=RequestEnvelope)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return self._respond(
                None,
                error=_Malformed(
                    "报文格式错误",
                    f"The envelope cannot be read ({exc}); fix it and send it again. Nothing was processed.",
                ),
            )
        try:
            self._check_envelope(envelope)
        except CentreRefusal as exc:
            return self._respond(envelope, error=exc)
        fingerprint = _fingerprint(envelope)
        if envelope.msgid in self._reversed:
            return self._respond(
                envelope,
                error=CentreRefusal(
                    "该报文已被冲正，不予处理",
                    "This msgid was reversed (2601); nothing was processed. Send a new message with a new msgid.",
                ),
            )
        seen = self._seen.get(envelope.msgid)
        if seen is not None:
            if seen.fingerprint == fingerprint:
                return _json(200, seen.body)
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
        except _Malformed as exc:
            return self._respond(envelope, error=exc)
        except CentreRefusal as exc:
            response = self._respond(envelope, error=exc)
        except GongjiError as exc:
            response = self._respond(envelope, error=CentreRefusal("交易失败", str(exc)))
        else:
            response = self._respond(envelope, answer=answer)
        self._seen[envelope.msgid] = _Seen(envelope.infno, fingerprint, response.content)
        return response

    def _check_envelope(self, envelope: RequestEnvelope) -> None:
        if not envelope.msgid or len(envelope.msgid) > 30:
            raise _Malformed(
                "报文ID错误", "msgid must be 1 to 30 characters; nothing was processed."
            )
        if not envelope.fixmedins_code:
            raise _Malformed("定点医药机构编号为空", "Set fixmedins_code; nothing was processed.")
        if envelope.infno == "9001":
            return
        if envelope.infno not in self._handlers:
            raise _Malformed(
                "交易编号不存在",
                f"The mock centre does not know infno {envelope.infno[:8]!r}; "
                "see docs/reference/mock-national.md for the codes it answers.",
            )
        sign_in = self._sign_ins.get(envelope.sign_no or "")
        if sign_in is None or sign_in.fixmedins_code != envelope.fixmedins_code:
            raise _Malformed(
                "未签到或签到编号无效，请先签到(9001)",
                "This message carries no valid sign_no; sign in with 9001 and put its sign_no "
                "in every later message. Nothing was processed.",
            )

    def _dispatch(self, envelope: RequestEnvelope) -> _Answer:
        if envelope.infno == "9001":
            return self._sign_in(envelope)
        return self._handlers[envelope.infno](envelope)

    def _respond(
        self,
        envelope: RequestEnvelope | None,
        *,
        answer: _Answer | None = None,
        error: CentreRefusal | None = None,
    ) -> httpx.Response:
        now = self.centre.clock()
        region = (envelope.mdtrtarea_admvs if envelope else None) or "000000"
        seconds = f"{now:%Y%m%d%H%M%S}"
        stamp = f"{seconds}{now.microsecond // 1000:03d}"
        reply = ResponseEnvelope(
            infcode=-1 if error else 0,
            inf_refmsgid=f"{region[:6]:0>6}{seconds}{next(self._serial):010d}",
            refmsg_time=stamp,
            respond_time=stamp,
            err_msg=error.err_msg if error else None,
            warn_msg=answer.warn_msg if answer else None,
            output=answer.output if answer else None,
        )
        return _json(200, msgspec.json.encode(reply))

    # ------------------------------------------------------------------ 9001 / 9002

    def _sign_in(self, envelope: RequestEnvelope) -> _Answer:
        sign_in = _decode(envelope, SignInInput).sign_in
        now = self.centre.clock()
        sign_no = f"{now:%Y%m%d%H%M%S}{secrets.token_hex(8).upper()}"
        self._sign_ins[sign_no] = _SignIn(envelope.fixmedins_code, sign_in.opter_no)
        return _Answer(_Wrapped(signinoutb=SignInOut(sign_time=_time(now), sign_no=sign_no)))

    def _sign_out(self, envelope: RequestEnvelope) -> _Answer:
        sign_out = _decode(envelope, SignOutInput).sign_out
        known = self._sign_ins.get(sign_out.sign_no)
        if known is None or known.fixmedins_code != envelope.fixmedins_code:
            raise CentreRefusal("签到编号不存在", "There is no such sign_no for this institution.")
        del self._sign_ins[sign_out.sign_no]
        return _Answer(_Wrapped(signoutoutb=SignOutOut(sign_time=_time(self.centre.clock()))))

    # ------------------------------------------------------------------ 1101 / X101

    def _person_info(self, envelope: RequestEnvelope) -> _Answer:
        query = _decode(envelope, Data[PersonQuery]).data
        person = self.centre.resolve(
            _credential(query.mdtrt_cert_type, query.mdtrt_cert_no, query.card_sn)
        )
        insuinfo = []
        if person.insurance.kind in _INSUTYPE:
            insuinfo.append(
                InsuInfo(
                    balc=_balance(person).to_yuan(),
                    insutype=_INSUTYPE[person.insurance.kind],
                    psn_insu_stas=_INSU_STAS[person.insurance.status],
                    insuplc_admdvs=person.insurance.region,
                )
            )
        return _Answer(_Wrapped(baseinfo=self._base_info(person), insuinfo=insuinfo))

    def _base_info(self, person: Person) -> BaseInfo:
        return BaseInfo(
            psn_no=self.psn_no(person.id),
            psn_cert_type="01",  # resident ID card
            certno=person.id.number,
            psn_name=person.name,
            gend="1" if person.id.sex == "male" else "2",
            brdy=person.id.birth_date.isoformat(),
            age=f"{person.id.age_on(self.centre.clock().date())}.0",
        )

    def _bindings(self, envelope: RequestEnvelope) -> _Answer:
        query = _decode(envelope, Data[BindingsQuery]).data
        beneficiary = self._person_by_psn(query.psn_no)
        found = []
        for binding in self.centre.dataset.bindings:
            if binding.beneficiary != beneficiary.id:
                continue
            owner = self.centre.person(binding.owner)
            limit = binding.per_transaction_limit
            found.append(
                BindingOut(
                    psn_no=self.psn_no(owner.id),
                    certno=owner.id.number,
                    psn_name=owner.name,
                    relation=binding.relation.value,
                    status=binding.status.value,
                    priority=binding.priority,
                    per_transaction_limit=None if limit is None else limit.to_yuan(),
                    insutype=_INSUTYPE.get(owner.insurance.kind, ""),
                    psn_insu_stas=_INSU_STAS[owner.insurance.status],
                    insuplc_admdvs=owner.insurance.region,
                    balc=_balance(owner).to_yuan(),
                )
            )
        return _Answer(_Wrapped(gongji_bindings=found))

    # ------------------------------------------------------------------ 2101/2102, 2206/2207

    def _purchase(self, envelope: RequestEnvelope) -> tuple[Purchase, SettleData, _Visit | None]:
        request = _decode(envelope, SettleInput)
        data = request.data
        setting = Setting.PHARMACY if envelope.infno.startswith("21") else Setting.OUTPATIENT
        patient = self._person_by_psn(data.psn_no)
        if setting is Setting.OUTPATIENT and not data.mdtrt_id:
            raise _Malformed(
                "就诊ID为空，门诊结算须先挂号(2201)",
                f"{envelope.infno} settles a registered visit: register it with 2201, upload its fees "
                "with 2204 and send its mdtrt_id. Nothing was processed.",
            )
        visit = None
        if data.mdtrt_id:
            visit = self._visit(data.mdtrt_id, data.psn_no, envelope.fixmedins_code)
        lines = [_line_item(detail) for detail in request.feedetail]
        if not lines and visit is not None:
            lines = [item for _, item in visit.items]
        if not lines:
            raise _Malformed(
                "费用明细为空",
                "The basket is empty: send feedetail[] with the message, or upload it with 2204 "
                "under the mdtrt_id first. Nothing was processed.",
            )
        if data.medfee_sumamt is not None:
            claimed = _fen(data.medfee_sumamt, "medfee_sumamt")
            total = sum((item.amount for item in lines), ZERO)
            if claimed != total:
                raise _Malformed(
                    "医疗费总额与明细合计不符",
                    f"medfee_sumamt {claimed.to_yuan()} differs from the lines' sum {total.to_yuan()}; "
                    "fix the basket. Nothing was processed.",
                )
        purchase = Purchase(
            credential=_credential(data.mdtrt_cert_type, data.mdtrt_cert_no, data.card_sn),
            items=lines,
            patient_id=patient.id,
            agent_id=data.gongji_agent_certno,
            purpose=data.gongji_purpose,
            setting=setting,
            use_mutual_aid=_mutual_aid_asked(data),
        )
        return purchase, data, visit

    def _visit(self, mdtrt_id: str, psn_no: str, fixmedins_code: str) -> _Visit:
        visit = self._visits.get(mdtrt_id)
        if visit is None or visit.fixmedins_code != fixmedins_code:
            raise CentreRefusal(
                "就诊ID不存在",
                f"There is no visit {mdtrt_id[:30]} here; register it with 2201 first.",
            )
        if visit.psn_no != psn_no:
            raise CentreRefusal(
                "就诊ID与人员编号不符",
                f"Visit {mdtrt_id[:30]} belongs to another psn_no; use the patient's own visit.",
            )
        return visit

    def _pre_settle(self, envelope: RequestEnvelope) -> _Answer:
        purchase, data, _visit = self._purchase(envelope)
        quote = self.centre.decide(purchase)
        output = self._settlement_out(
            purchase,
            quote,
            data,
            setl_id="",
            mdtrt_id=data.mdtrt_id or "",
            msgid=envelope.msgid,
            balance_after=_own_balance_after(self.centre, purchase, quote),
        )
        return _Answer(output, _warnings(quote))

    def _settle(self, envelope: RequestEnvelope) -> _Answer:
        purchase, data, visit = self._purchase(envelope)
        if (
            visit is not None
            and visit.setl_id is not None
            and not self.centre.is_cancelled(visit.setl_id)
        ):
            raise CentreRefusal(
                "该就诊已结算",
                f"Visit {visit.setl_id[:30]} is already settled; cancel it (2208) before settling it again.",
            )
        settlement = self.centre.settle(purchase, msgid=envelope.msgid)
        mdtrt_id = data.mdtrt_id or f"MDT{settlement.setl_id[4:]}"
        if visit is not None:
            visit.setl_id = settlement.setl_id
        output = self._settlement_out(
            purchase,
            settlement.quote,
            data,
            setl_id=settlement.setl_id,
            mdtrt_id=mdtrt_id,
            msgid=envelope.msgid,
            balance_after=_balance(self.centre.person(settlement.patient)),
        )
        self._settle_by_msgid[envelope.msgid] = settlement.setl_id
        self._settled[settlement.setl_id] = _Settled(
            envelope.fixmedins_code,
            envelope.msgid,
            mdtrt_id,
            data.psn_no,
            output.setlinfo.setl_time,
            output,
        )
        return _Answer(output, _warnings(settlement.quote))

    def _settlement_out(
        self,
        purchase: Purchase,
        quote: Quote,
        data: SettleData,
        *,
        setl_id: str,
        mdtrt_id: str,
        msgid: str,
        balance_after: Fen,
    ) -> SettlementOut:
        assert purchase.patient_id is not None  # set from psn_no by _purchase
        patient = self.centre.person(purchase.patient_id)
        policy = self.centre.policy_on(self.centre.clock().date())
        catalogue = policy.catalogue
        keep_b = 100 - (catalogue.class_b_self_first_percent if catalogue is not None else 0)
        banned = policy.use.cash_only_categories
        own_pay = sum(
            (i.amount for i in purchase.items if i.coverage is Coverage.C or i.category in banned),
            ZERO,
        )
        pre_self = sum(
            (
                i.amount - i.amount.times_ratio(keep_b, 100, Rounding.DOWN)
                for i in purchase.items
                if i.coverage is Coverage.B and i.category not in banned
            ),
            ZERO,
        )
        in_scope = purchase.total - own_pay - pre_self
        own_account = sum((leg.amount for leg in quote.legs if leg.source == "own_account"), ZERO)
        mutual_aid = [leg for leg in quote.legs if leg.source == "mutual_aid"]
        base = self._base_info(patient)
        detail = []
        if quote.fund and patient.insurance.kind in _FUND_PAY_TYPE:
            code, name = _FUND_PAY_TYPE[patient.insurance.kind]
            detail.append(
                SetlDetail(
                    fund_pay_type=code,
                    fund_pay_type_name=name,
                    inscp_scp_amt=in_scope.to_yuan(),
                    fund_payamt=quote.fund.to_yuan(),
                )
            )
        return SettlementOut(
            setlinfo=SetlInfo(
                setl_id=setl_id,
                mdtrt_id=mdtrt_id,
                psn_no=base.psn_no,
                psn_name=base.psn_name,
                psn_cert_type=base.psn_cert_type,
                certno=base.certno,
                gend=base.gend,
                brdy=base.brdy,
                age=base.age,
                insutype=_INSUTYPE.get(patient.insurance.kind, ""),
                setl_time=_time(self.centre.clock()),
                mdtrt_cert_type=data.mdtrt_cert_type,
                med_type=data.med_type,
                medfee_sumamt=quote.total.to_yuan(),
                fulamt_ownpay_amt=own_pay.to_yuan(),
                overlmt_selfpay=ZERO.to_yuan(),
                preselfpay_amt=pre_self.to_yuan(),
                inscp_scp_amt=in_scope.to_yuan(),
                hifp_pay=quote.fund.to_yuan(),
                fund_pay_sumamt=quote.fund.to_yuan(),
                psn_part_amt=(quote.total - quote.fund).to_yuan(),
                acct_pay=own_account.to_yuan(),
                acct_mulaid_pay=sum((leg.amount for leg in mutual_aid), ZERO).to_yuan(),
                psn_cash_pay=quote.cash.to_yuan(),
                balc=balance_after.to_yuan(),
                medins_setl_id=msgid,
            ),
            setldetail=detail,
            gongji_mulaid_detail=[
                MulaidDetail(
                    psn_no=self.psn_no(leg.payer_id),
                    certno=leg.payer_id.number,
                    relation=leg.relation.value if leg.relation else "",
                    amount=leg.amount.to_yuan(),
                )
                for leg in mutual_aid
            ],
            gongji_refusals=[
                RefusalOut(
                    rule=refusal.rule,
                    psn_no=self.psn_no(refusal.owner_id) if refusal.owner_id else "",
                    reason=refusal.reason,
                    reason_zh=refusal.reason_zh,
                )
                for refusal in quote.refusals
            ],
        )

    # ------------------------------------------------------------------ 2103 / 2208

    def _cancel(self, envelope: RequestEnvelope) -> _Answer:
        data = _decode(envelope, Data[CancelData]).data
        settlement, settled = self._own_settlement(
            data.setl_id, data.psn_no, envelope.fixmedins_code
        )
        expected = "2103" if settlement.setting is Setting.PHARMACY else "2208"
        if envelope.infno != expected:
            raise CentreRefusal(
                "撤销交易类型与原结算不符",
                f"Settlement {data.setl_id[:30]} was a {settlement.setting.value} settlement; cancel it with {expected}.",
            )
        self.centre.cancel(settlement.setl_id)
        return _Answer(self._cancellation_out(settlement, settled))

    def _own_settlement(
        self, setl_id: str, psn_no: str, fixmedins_code: str
    ) -> tuple[Settlement, _Settled]:
        settlement = self.centre.settlement(setl_id)
        settled = self._settled.get(setl_id)
        if settlement is None or settled is None or settled.fixmedins_code != fixmedins_code:
            raise CentreRefusal(
                "未找到该结算记录", f"There is no settlement {setl_id[:30]} of this institution."
            )
        if settled.psn_no != psn_no:
            raise CentreRefusal(
                "结算记录与人员编号不符",
                f"Settlement {setl_id[:30]} belongs to another psn_no; nothing was cancelled.",
            )
        return settlement, settled

    def _cancellation_out(self, settlement: Settlement, settled: _Settled) -> SettlementOut:
        # The money going back: the original amounts negated; the balance as it is now.
        original = settled.output.setlinfo
        negated = {
            name: (-Fen.from_yuan(getattr(original, name))).to_yuan()
            for name in (
                "medfee_sumamt",
                "fulamt_ownpay_amt",
                "overlmt_selfpay",
                "preselfpay_amt",
                "inscp_scp_amt",
                "hifp_pay",
                "fund_pay_sumamt",
                "psn_part_amt",
                "acct_pay",
                "acct_mulaid_pay",
                "psn_cash_pay",
            )
        }
        balance = _balance(self.centre.person(settlement.patient)).to_yuan()
        setlinfo = msgspec.structs.replace(
            original, **negated, balc=balance, setl_time=_time(self.centre.clock())
        )
        return msgspec.structs.replace(
            settled.output,
            setlinfo=setlinfo,
            setldetail=[
                msgspec.structs.replace(d, fund_payamt=(-Fen.from_yuan(d.fund_payamt)).to_yuan())
                for d in settled.output.setldetail
            ],
            gongji_mulaid_detail=[
                msgspec.structs.replace(m, amount=(-Fen.from_yuan(m.amount)).to_yuan())
                for m in settled.output.gongji_mulaid_detail
            ],
            gongji_refusals=[],
        )

    # ------------------------------------------------------------------ 2201 / 2204

    def _register(self, envelope: RequestEnvelope) -> _Answer:
        data = _decode(envelope, Data[RegistrationData]).data
        patient = self._person_by_psn(data.psn_no)
        holder = self.centre.resolve(
            _credential(data.mdtrt_cert_type, data.mdtrt_cert_no, data.card_sn)
        )
        if holder.id != patient.id:
            raise CentreRefusal(
                "冒名就医：所出示凭证不属于患者本人，请使用患者本人医保凭证",
                "R1: the credential presented is not the patient's own; use the patient's own credential.",
                rule="R1",
            )
        mdtrt_id = f"MDT{self.centre.clock():%Y%m%d}{len(self._visits) + 1:08d}"
        self._visits[mdtrt_id] = _Visit(data.psn_no, patient.id, envelope.fixmedins_code)
        return _Answer(
            _Wrapped(
                data=_Wrapped(mdtrt_id=mdtrt_id, psn_no=data.psn_no, ipt_otp_no=data.ipt_otp_no)
            )
        )

    def _upload_fees(self, envelope: RequestEnvelope) -> _Answer:
        upload = _decode(envelope, FeeUploadInput)
        if not upload.feedetail:
            raise _Malformed("费用明细为空", "Send at least one line in feedetail[].")
        checked = []
        for detail in upload.feedetail:
            if not detail.mdtrt_id or not detail.psn_no or not detail.feedetl_sn:
                raise _Malformed(
                    "费用明细缺少就诊ID、人员编号或明细流水号",
                    "Every 2204 line needs mdtrt_id, psn_no and feedetl_sn.",
                )
            visit = self._visit(detail.mdtrt_id, detail.psn_no, envelope.fixmedins_code)
            if visit.setl_id is not None and not self.centre.is_cancelled(visit.setl_id):
                raise CentreRefusal(
                    "该就诊已结算", "The visit is already settled; no more lines can be added."
                )
            if any(sn == detail.feedetl_sn for sn, _ in visit.items):
                raise CentreRefusal(
                    "费用明细流水号重复",
                    f"feedetl_sn {detail.feedetl_sn[:30]} was already uploaded for this visit.",
                )
            checked.append((visit, detail, _line_item(detail)))
        results = []
        for visit, detail, item in checked:  # all lines checked before any is kept
            visit.items.append((detail.feedetl_sn, item))
            results.append(
                FeeResult(
                    feedetl_sn=detail.feedetl_sn,
                    det_item_fee_sumamt=item.amount.to_yuan(),
                    cnt=str(item.quantity),
                    pric=item.unit_price.to_yuan(),
                    chrgitm_lv=detail.chrgitm_lv,
                )
            )
        return _Answer(_Wrapped(result=results))

    # ------------------------------------------------------------------ 2601

    def _reverse(self, envelope: RequestEnvelope) -> _Answer:
        data = _decode(envelope, Data[ReversalData]).data
        key = (data.omsgid, data.oinfno)
        done = self._reversals.get(key)
        if done is not None:
            return _Answer(msgspec.json.decode(done, type=_ReversalOut))
        if data.oinfno not in REVERSIBLE:
            raise CentreRefusal(
                "该交易不支持冲正",
                f"The mock reverses only {', '.join(sorted(REVERSIBLE))}; cancel other settlements with 2103/2208.",
            )
        seen = self._seen.get(data.omsgid)
        if seen is not None and seen.infno != data.oinfno:
            raise CentreRefusal(
                "原交易编号与原报文不符",
                f"Message {data.omsgid[:30]} was a {seen.infno}, not a {data.oinfno}; nothing was reversed.",
            )
        setl_id = self._settle_by_msgid.get(data.omsgid, "")
        if setl_id:
            settled = self._settled[setl_id]
            if data.psn_no and data.psn_no != settled.psn_no:
                raise CentreRefusal(
                    "人员编号与原交易不符",
                    "psn_no differs from the original message's; nothing was reversed.",
                )
            self.centre.cancel(setl_id)
            state = "reversed"
        else:
            state = "original_refused" if seen is not None else "original_not_received"
        self._reversed.add(data.omsgid)
        output = _ReversalOut(
            gongji_reversal=_ReversalState(
                omsgid=data.omsgid, oinfno=data.oinfno, setl_id=setl_id, state=state
            )
        )
        self._reversals[key] = msgspec.json.encode(output)
        return _Answer(output)

    # ------------------------------------------------------------------ 3201 / 3202

    def _statement(
        self, envelope: RequestEnvelope
    ) -> tuple[StatementData, list[tuple[Settlement, _Settled]]]:
        data = _decode(envelope, Data[StatementData]).data
        first, last = (
            _date(data.stmt_begndate, "stmt_begndate"),
            _date(data.stmt_enddate, "stmt_enddate"),
        )
        if last < first or (last - first).days > 31:
            raise _Malformed(
                "对账日期区间错误",
                "stmt_enddate must be on or after stmt_begndate, within 31 days.",
            )
        found = []
        day = first
        while day <= last:
            for settlement in self.centre.settlements_on(day):
                settled = self._settled.get(settlement.setl_id)
                if settled is None or settled.fixmedins_code != envelope.fixmedins_code:
                    continue
                kind = self.centre.person(settlement.patient).insurance.kind
                if data.insutype and _INSUTYPE.get(kind) != data.insutype:
                    continue
                found.append((settlement, settled))
            day += datetime.timedelta(days=1)
        return data, found

    def _day_totals(self, envelope: RequestEnvelope) -> _Answer:
        data, found = self._statement(envelope)
        quotes = [settlement.quote for settlement, _ in found]
        totals = StatementTotals(
            fixmedins_setl_cnt=len(quotes),
            medfee_sumamt=sum((q.total for q in quotes), ZERO).to_yuan(),
            fund_pay_sumamt=sum((q.fund for q in quotes), ZERO).to_yuan(),
            acct_pay=sum((_legs(q, "own_account") for q in quotes), ZERO).to_yuan(),
            acct_mulaid_pay=sum((_legs(q, "mutual_aid") for q in quotes), ZERO).to_yuan(),
            psn_cash_pay=sum((q.cash for q in quotes), ZERO).to_yuan(),
        )
        claimed = (data.medfee_sumamt, data.fund_pay_sumamt, data.acct_pay, data.fixmedins_setl_cnt)
        if all(value is None for value in claimed):
            result, description = (
                "",
                "未提交机构汇总，仅返回中心汇总 / No institution totals sent; the centre's totals only.",
            )
        else:
            same = (
                data.medfee_sumamt is not None
                and _fen(data.medfee_sumamt, "medfee_sumamt").to_yuan() == totals.medfee_sumamt
                and data.fund_pay_sumamt is not None
                and _fen(data.fund_pay_sumamt, "fund_pay_sumamt").to_yuan()
                == totals.fund_pay_sumamt
                and data.acct_pay is not None
                and _fen(data.acct_pay, "acct_pay").to_yuan() == totals.acct_pay
                and data.fixmedins_setl_cnt == totals.fixmedins_setl_cnt
            )
            result = "0" if same else "1"
            description = (
                "对账一致 / Totals agree."
                if same
                else ("对账不平，请用3202核对明细 / Totals differ; compare the details with 3202.")
            )
        return _Answer(
            _Wrapped(
                stmtinfo=_Wrapped(
                    setl_optins=data.setl_optins or "", stmt_rslt=result, stmt_rslt_dscr=description
                ),
                gongji_totals=totals,
            )
        )

    def _day_details(self, envelope: RequestEnvelope) -> _Answer:
        _data, found = self._statement(envelope)
        details = []
        for settlement, settled in found:
            quote = settlement.quote
            details.append(
                StatementDetail(
                    setl_id=settlement.setl_id,
                    mdtrt_id=settled.mdtrt_id,
                    psn_no=settled.psn_no,
                    msgid=settled.msgid,
                    setl_time=settled.setl_time,
                    refd_setl_flag="0",
                    medfee_sumamt=quote.total.to_yuan(),
                    fund_pay_sumamt=quote.fund.to_yuan(),
                    acct_pay=_legs(quote, "own_account").to_yuan(),
                    acct_mulaid_pay=_legs(quote, "mutual_aid").to_yuan(),
                    psn_cash_pay=quote.cash.to_yuan(),
                )
            )
        return _Answer(_Wrapped(gongji_details=details))

    # ------------------------------------------------------------------ a state file (--state)

    def snapshot(self, written: Mapping[str, int]) -> tuple[NationalState, dict[str, list[Any]]]:
        """The endpoint's and the centre's small records whole, and their growing ones after
        the first ``written[name]`` (see ``Centre.snapshot``).

        Messages seen (with their first answers) and settlements are only ever added, never
        changed or removed. Taken under the endpoint's lock, which a message holds for as
        long as it changes the centre: a settlement is never half in a snapshot.
        """
        with self._lock:
            serial = next(self._serial)
            self._serial = itertools.count(serial)  # reading a count consumes it: put it back
            centre, records = self.centre.snapshot(written)
            state = NationalState(
                psn_nos={number.number: psn_no for number, psn_no in self._psn_by_id.items()},
                sign_ins=[
                    SignInRow(sign_no=sign_no, fixmedins_code=s.fixmedins_code, opter_no=s.opter_no)
                    for sign_no, s in self._sign_ins.items()
                ],
                reversed=sorted(self._reversed),
                reversals=[
                    ReversalRow(omsgid=omsgid, oinfno=oinfno, body=body)
                    for (omsgid, oinfno), body in self._reversals.items()
                ],
                visits=[
                    VisitRow(
                        mdtrt_id=mdtrt_id,
                        psn_no=v.psn_no,
                        patient=v.patient.number,
                        fixmedins_code=v.fixmedins_code,
                        items=[
                            VisitItemRow(feedetl_sn=sn, item=line_item_row(item))
                            for sn, item in v.items
                        ],
                        setl_id=v.setl_id,
                    )
                    for mdtrt_id, v in self._visits.items()
                ],
                serial=serial,
                centre=centre,
            )
            seen = itertools.islice(self._seen.items(), written.get("seen", 0), None)
            settled = itertools.islice(self._settled.items(), written.get("settled", 0), None)
            records["seen"] = [
                SeenRow(msgid=msgid, infno=s.infno, fingerprint=s.fingerprint, body=s.body)
                for msgid, s in seen
            ]
            records["settled"] = [
                SettledRow(
                    setl_id=setl_id,
                    fixmedins_code=s.fixmedins_code,
                    msgid=s.msgid,
                    mdtrt_id=s.mdtrt_id,
                    psn_no=s.psn_no,
                    setl_time=s.setl_time,
                    output=s.output,
                )
                for setl_id, s in settled
            ]
            return state, records

    def restore(
        self,
        state: NationalState,
        *,
        seen: Sequence[SeenRow],
        settled: Sequence[SettledRow],
        tokens: Sequence[TokenRow],
        settlements: Sequence[SettlementRow],
        transactions: Sequence[TransactionRow],
    ) -> None:
        """Put back what ``snapshot()`` took (every record, from the first), the centre's too."""
        psn_by_id = {IdNumber(number): psn_no for number, psn_no in state.psn_nos.items()}
        visits = {
            row.mdtrt_id: _Visit(
                row.psn_no,
                IdNumber(row.patient),
                row.fixmedins_code,
                [(i.feedetl_sn, line_item(i.item)) for i in row.items],
                row.setl_id,
            )
            for row in state.visits
        }
        with self._lock:
            self._psn_by_id = psn_by_id
            self._id_by_psn = {psn_no: number for number, psn_no in psn_by_id.items()}
            self._sign_ins = {
                row.sign_no: _SignIn(row.fixmedins_code, row.opter_no) for row in state.sign_ins
            }
            self._seen = {row.msgid: _Seen(row.infno, row.fingerprint, row.body) for row in seen}
            self._reversed = set(state.reversed)
            self._reversals = {(row.omsgid, row.oinfno): row.body for row in state.reversals}
            self._settled = {
                row.setl_id: _Settled(
                    row.fixmedins_code,
                    row.msgid,
                    row.mdtrt_id,
                    row.psn_no,
                    row.setl_time,
                    row.output,
                )
                for row in settled
            }
            # A settlement's msgid is on its record: the index need not be kept apart.
            self._settle_by_msgid = {row.msgid: row.setl_id for row in settled}
            self._visits = visits
            self._serial = itertools.count(state.serial)
            self.centre.restore(
                state.centre, tokens=tokens, settlements=settlements, transactions=transactions
            )


class SignInRow(msgspec.Struct, frozen=True, kw_only=True):
    sign_no: str
    fixmedins_code: str
    opter_no: str


class SeenRow(msgspec.Struct, frozen=True, kw_only=True):
    msgid: str
    infno: str
    fingerprint: str
    body: bytes  # the first answer, replayed byte for byte


class ReversalRow(msgspec.Struct, frozen=True, kw_only=True):
    omsgid: str
    oinfno: str
    body: bytes


class SettledRow(msgspec.Struct, frozen=True, kw_only=True):
    setl_id: str
    fixmedins_code: str
    msgid: str
    mdtrt_id: str
    psn_no: str
    setl_time: str
    output: SettlementOut


class VisitItemRow(msgspec.Struct, frozen=True, kw_only=True):
    feedetl_sn: str
    item: LineItemRow


class VisitRow(msgspec.Struct, frozen=True, kw_only=True):
    mdtrt_id: str
    psn_no: str
    patient: str  # full ID number
    fixmedins_code: str
    items: list[VisitItemRow]
    setl_id: str | None


class NationalState(msgspec.Struct, frozen=True, kw_only=True):
    """The insurance centre's small records, this endpoint's and the centre's; the growing
    ones (messages seen, settlements, tokens, transactions) are kept apart."""

    psn_nos: dict[str, str]  # full ID number -> psn_no
    sign_ins: list[SignInRow]
    reversed: list[str]
    reversals: list[ReversalRow]
    visits: list[VisitRow]
    serial: int  # the next inf_refmsgid serial
    centre: CentreState


def handle_national(endpoint: NationalEndpoint, request: httpx.Request) -> httpx.Response:
    """The endpoint as a plain function, for a router: ``handle_national(endpoint, request)``."""
    return endpoint.handle(request)


# ====================================================================== helpers


class _ReversalState(_Out, frozen=True, kw_only=True):
    omsgid: str
    oinfno: str
    setl_id: str
    state: str  # reversed | original_refused | original_not_received


class _ReversalOut(_Out, frozen=True, kw_only=True):
    gongji_reversal: _ReversalState


def _Wrapped(**fields: Any) -> dict[str, Any]:
    """An output object with national key names that needs no struct of its own."""
    return fields


def _decode(envelope: RequestEnvelope, kind: type[T]) -> T:
    try:
        return jsonwire.decode(envelope.input, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _Malformed(
            "输入参数错误",
            f"The input of {envelope.infno} does not match the interface ({exc}); "
            "fix it and send it again. Nothing was processed.",
        ) from None


_CANONICAL = msgspec.json.Decoder(Any, float_hook=decimal.Decimal)


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


def _credential(kind: str, number: str, card_sn: str | None) -> Credential:
    if kind == CredentialKind.E_VOUCHER:
        return Credential.e_voucher(number)
    if kind == CredentialKind.ID_NUMBER:
        return Credential.id_card(number)
    if kind == CredentialKind.SOCIAL_CARD:
        if not card_sn:
            raise _Malformed(
                "社保卡识别码为空", "mdtrt_cert_type 03 needs card_sn; read the card again."
            )
        return Credential.social_card(number, card_sn=card_sn)
    raise _Malformed(
        "就诊凭证类型错误",
        f"mdtrt_cert_type {kind[:4]!r} is not 01 (e-voucher), 02 (ID number) or 03 (social card).",
    )


def _fen(value: decimal.Decimal, name: str) -> Fen:
    """Whole fen from a decimal read off the wire; a fraction of a fen is refused, not rounded."""
    try:
        whole = value.is_finite() and value == value.quantize(
            decimal.Decimal("0.01"), rounding=decimal.ROUND_DOWN
        )
    except decimal.InvalidOperation:  # more digits than the context holds (1E+999999)
        whole = False
    if not whole:
        raise _Malformed(
            "金额格式错误",
            f"{name} {str(value)[:40]} is not a whole number of fen; send yuan with at most two decimals.",
        )
    return Fen(int(value.scaleb(2)))


def _line_item(detail: FeeDetail) -> LineItem:
    coverage = _COVERAGE_BY_LEVEL.get(detail.chrgitm_lv)
    if coverage is None:
        raise _Malformed(
            "收费项目等级错误", f"chrgitm_lv {detail.chrgitm_lv[:4]!r} is not 01, 02 or 03."
        )
    if detail.cnt != detail.cnt.to_integral_value() or detail.cnt <= 0:
        raise _Malformed(
            "数量错误",
            f"cnt {detail.cnt} of line {detail.feedetl_sn[:30]!r} must be a whole number from 1.",
        )
    price = _fen(detail.pric, "pric")
    item = LineItem(
        code=detail.med_list_codg or detail.medins_list_codg,
        name=detail.gongji_item_name,
        unit_price=price,
        quantity=int(detail.cnt),
        category=detail.gongji_category,
        coverage=coverage,
    )
    if (
        detail.det_item_fee_sumamt is not None
        and _fen(detail.det_item_fee_sumamt, "det_item_fee_sumamt") != item.amount
    ):
        raise _Malformed(
            "明细金额与单价乘数量不符",
            f"det_item_fee_sumamt of line {detail.feedetl_sn[:30]!r} is not pric x cnt ({item.amount.to_yuan()}).",
        )
    return item


def _balance(person: Person) -> Fen:
    return person.account.balance if person.account is not None else ZERO


def _own_balance_after(centre: Centre, purchase: Purchase, quote: Quote) -> Fen:
    patient = centre.person(purchase.patient_id) if purchase.patient_id else None
    if patient is None:
        return ZERO
    return _balance(patient) - _legs(quote, "own_account")


def _legs(quote: Quote, source: str) -> Fen:
    return sum((leg.amount for leg in quote.legs if leg.source == source), ZERO)


def _warnings(quote: Quote) -> str | None:
    if not quote.refusals:
        return None
    return "; ".join(f"{r.rule}: {r.reason_zh or r.reason} / {r.reason}" for r in quote.refusals)


def _time(moment: datetime.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def _date(text: str, name: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        raise _Malformed("日期格式错误", f"{name} must be yyyy-MM-dd.") from None


def _json(status: int, body: bytes) -> httpx.Response:
    return httpx.Response(
        status, content=body, headers={"content-type": "application/json; charset=utf-8"}
    )


def _refusal(status: int, zh: str, en: str) -> httpx.Response:
    return _json(status, msgspec.json.encode(GatewayRefusal(infcode=-1, err_msg=f"{zh} / {en}")))


def _mutual_aid_asked(data: SettleData) -> bool:
    """The patient's choice of mutual aid: gongji's extension field when sent, else the
    national flag (a real till sends acct_used_flag 1 to use the accounts)."""
    asked = data.gongji_use_mutual_aid
    if asked is None:
        return data.acct_used_flag != "0"
    if asked not in ("0", "1"):
        raise _Malformed(
            "gongji_use_mutual_aid 取值错误",
            f"gongji_use_mutual_aid must be 0 or 1, got {asked[:8]!r}. Nothing was processed.",
        )
    return asked == "1"
