"""A city insurance gateway on the national envelope: builds, signs and reads every message.

Each operation is a flow (``gongji.gateways.exchange``). The envelope carries the
institution and operator, a ``msgid`` per message, the ``sign_no`` of the day's
sign-in (9001, renewed once when the centre no longer knows it: a message refused
for that was not processed, so sending it again is safe), and ``inf_time``.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import attrs
import httpx
import msgspec
from attrs import frozen

import gongji.jsonwire as jsonwire
from gongji import clock as beijing
from gongji.clock import Clock
from gongji.errors import (
    ConfigError,
    Declined,
    InvalidInput,
    SignatureError,
    Unavailable,
    UntrustedAnswer,
)
from gongji.gateways import (
    Capability,
    CentreDetail,
    CentreSettlement,
    DayTotals,
    Holder,
    MsgidJournal,
    Registration,
    ReversalState,
    SettlementRequest,
    require,
)
from gongji.gateways.exchange import Flow, blocking, exchange
from gongji.gateways.secrets import read_secret
from gongji.identity import Credential, IdNumber, mask_id
from gongji.journal import MemoryJournal
from gongji.model import Binding, LineItem, Person, Setting, Visit
from gongji.money import Fen
from gongji.signing.csb import CsbAuth, CsbSigner
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import transform, wire

PATH = "/fsi/api/rsfComIfsService/callService"
#: Where ``gongji mock serve`` listens by default.
MOCK_URL = "http://127.0.0.1:8930"

_T = TypeVar("_T")
_SIGN_IN_LOST = "未签到"  # the start of the centre's refusal of an unknown sign_no
_MSGID_TAKEN = "报文ID重复"  # ... of a msgid another message already used
_MSGID_REVERSED = "该报文已被冲正"  # ... of a msgid a 2601 reversal named
#: ``Declined.code`` when the centre refused a message, unprocessed, for its msgid alone:
#: the caller may send it again under a new msgid (a journaled one must be journaled anew).
MSGID_REFUSED = "msgid_refused"
_MSGID_TRIES = 4
_REVERSAL_STATES: tuple[ReversalState, ...] = (
    "reversed",
    "original_refused",
    "original_not_received",
)


@frozen
class CityProfile:
    """What differs from city to city: address, signing, policy pack, extensions."""

    city: str
    region: str  # the pooling region the gateway serves (mdtrtarea_admvs)
    policy: str  # the region's policy pack id
    base_url: str = MOCK_URL
    path: str = PATH
    signing: Literal["tif", "csb"] = "tif"
    #: gongji's documented extensions (X101 bindings, ``gongji_*`` fields). A real centre
    #: without them still settles mutual aid; the client then cannot plan it in advance.
    extensions: bool = False


CITIES: Mapping[str, CityProfile] = {
    "dalian": CityProfile(
        city="dalian", region="210200", policy="liaoning-dalian-2025", extensions=True
    ),
    "benxi": CityProfile(
        city="benxi", region="210500", policy="liaoning-benxi-2025", extensions=True
    ),
}


@frozen
class Institution:
    """The designated pharmacy or clinic and the operator at the till."""

    code: str  # fixmedins_code, 12 characters
    name: str
    operator: str = "001"
    operator_name: str = "收银员"
    device: str = ""
    #: 0-99 for each till of one institution that keeps a journal of its own: its msgids
    #: then never meet another till's (``Journal.allocate_msgid``).
    till: int | None = None

    def __attrs_post_init__(self) -> None:
        if not self.code or len(self.code) > 20:
            raise ConfigError(
                "The institution code (fixmedins_code) is missing or too long.",
                next_step="Copy the 12-character code of the designated institution from its agreement.",
            )
        if self.till is not None and (type(self.till) is not int or not 0 <= self.till <= 99):
            raise ConfigError(
                "A till number must be a whole number from 0 to 99.",
                next_step="Number the tills of one institution 0, 1, 2, ... in the gateway settings.",
            )


#: What a config file may put in place of a city profile's values, and their types.
_OVERRIDE_TYPES: Mapping[str, type] = {
    "base_url": str,
    "path": str,
    "signing": str,
    "extensions": bool,
    "policy": str,
}
_OVERRIDE_HELP = (
    'Write base_url, path and policy as strings, signing as "tif" or "csb", and extensions '
    "as true or false (docs/reference/config.md)."
)


class CityInsuranceGateway:
    """``gongji.gateways.InsuranceGateway`` for the national interface of one city."""

    name = "cityins"
    #: Everything a city may offer; bindings (X101) only where the city has the extension.
    DECLARED = frozenset(
        {
            Capability.PERSON_INFO,
            Capability.BINDINGS,
            Capability.PRE_SETTLE,
            Capability.SETTLE,
            Capability.CANCEL,
            Capability.REVERSE,
            Capability.RECONCILE,
            Capability.REGISTER,
            Capability.UPLOAD_FEES,
        }
    )

    def __init__(
        self,
        *,
        profile: CityProfile,
        institution: Institution,
        auth: httpx.Auth,
        clock: Clock = beijing.now,
        journal: MsgidJournal | None = None,
    ) -> None:
        self.profile = profile
        self.institution = institution
        self.region = profile.region
        self.policy = profile.policy
        self._auth = auth
        self._clock = clock
        self._url = profile.base_url.rstrip("/") + profile.path
        self._sign_no: str | None = None
        # Where the msgids come from: the client's journal (``with_journal``); alone, a
        # journal of this object's own, so that a gateway driven by hand numbers too.
        self._journal: MsgidJournal = journal if journal is not None else MemoryJournal()
        self.capabilities = (
            self.DECLARED if profile.extensions else self.DECLARED - {Capability.BINDINGS}
        )

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], config_dir: Path | None = None
    ) -> CityInsuranceGateway:
        """From a config profile's ``[gateway]`` table; ``secret_file`` (read from
        ``config_dir`` when relative) or ``secret_env`` holds the secret, never the table."""
        secret = read_secret(settings, "secret", where="gateway", config_dir=config_dir)
        assert secret is not None  # required: read_secret raised otherwise
        city = str(settings.get("city", ""))
        if city not in CITIES:
            raise ConfigError(
                f"No city profile is called {city!r}.",
                next_step=f"Set gateway.city to one of: {', '.join(sorted(CITIES))}.",
            )
        overrides = {
            key: settings[key]
            for key in ("base_url", "path", "signing", "extensions", "policy")
            if key in settings
        }
        for key, value in overrides.items():
            if not isinstance(value, _OVERRIDE_TYPES[key]) or (
                key == "signing" and value not in ("tif", "csb")
            ):
                raise ConfigError(
                    f"gateway.{key} is a {type(value).__name__}, which it cannot be.",
                    next_step=_OVERRIDE_HELP,
                )
        profile = CITIES[city]
        if overrides:
            profile = attrs.evolve(profile, **overrides)
        institution = Institution(
            code=str(settings.get("institution_code", "")),
            name=str(settings.get("institution_name", "")),
            operator=str(settings.get("operator", "001")),
            operator_name=str(settings.get("operator_name", "收银员")),
            till=settings.get("till"),
        )
        return cls(
            profile=profile, institution=institution, auth=_auth_for(profile, settings, secret)
        )

    def __repr__(self) -> str:
        return f"CityInsuranceGateway(city={self.profile.city!r}, url={self._url!r})"

    # ------------------------------------------------------------ the envelope

    def with_journal(self, journal: MsgidJournal) -> CityInsuranceGateway:
        bound = copy.copy(self)
        bound._journal = journal
        return bound

    def new_msgid(self, *, key: str = "", purpose: str = "read", durable: bool = True) -> Flow[str]:
        """The national msgid (institution code + Beijing second + 4 digits), from the journal."""
        journal, institution, at = self._journal, self.institution, self._clock()
        return (
            yield from blocking(
                lambda: journal.allocate_msgid(
                    institution.code,
                    at,
                    institution.till,
                    key=key,
                    purpose=purpose,
                    durable=durable,
                ),
                blocks=journal.blocks,
            )
        )

    def _request(self, infno: str, data: Any, msgid: str, insured_in: str) -> httpx.Request:
        envelope = wire.Envelope(
            infno=infno,
            msgid=msgid,
            mdtrtarea_admvs=self.region,
            insuplc_admdvs=insured_in or self.region,
            recer_sys_code="POS",
            dev_no=self.institution.device,
            dev_safe_info="",
            cainfo="",
            signtype="",
            infver="V1.0",
            opter_type="1",
            opter=self.institution.operator,
            opter_name=self.institution.operator_name,
            inf_time=beijing.wire_time(self._clock()),
            fixmedins_code=self.institution.code,
            fixmedins_name=self.institution.name,
            sign_no=self._sign_no or "",
            input=data,
        )
        return httpx.Request(
            "POST",
            self._url,
            content=msgspec.json.encode(envelope),
            headers={"Content-Type": "application/json;charset=utf-8"},
        )

    def _call(
        self, infno: str, data: Any, *, msgid: str | None = None, insured_in: str = ""
    ) -> Flow[msgspec.Raw]:
        """One message; its output, or ``Declined`` with the centre's words."""
        if self._sign_no is None and infno != "9001":
            yield from self.sign_in()
        ours = msgid is None  # a write's msgid is the caller's (journaled); a read's is ours
        if msgid is None:
            # A read's id is committed without its own fsync: the sale's next durable write
            # carries it, and lost with the power it could only make a later message be
            # refused as taken, unprocessed, which is sent again under a new id.
            msgid = yield from self.new_msgid(durable=False)
        signed_in_again = False
        for attempt in range(1, _MSGID_TRIES + 1):
            answer = yield from self._send(self._request(infno, data, msgid, insured_in))
            if answer.infcode == 0:
                return answer.output
            message = _scrub(answer.err_msg or "")
            if not signed_in_again and infno != "9001" and message.startswith(_SIGN_IN_LOST):
                signed_in_again = True
                yield from self.sign_in()  # not processed: the same msgid may go again
                continue
            unusable = message.startswith((_MSGID_TAKEN, _MSGID_REVERSED))
            if unusable and ours and attempt < _MSGID_TRIES:
                # Another message (of a till numbering from another journal) had it; ours
                # was not processed: send it again under a new one.
                msgid = yield from self.new_msgid(durable=False)
                continue
            raise Declined(
                f"The insurance centre refused {infno}: {message[:300]}",
                infcode=str(answer.infcode),
                err_msg=message[:300],
                gateway=self.name,
                request_id=msgid,
                code=MSGID_REFUSED if unusable else None,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, request: httpx.Request) -> Flow[wire.Answer]:
        response = yield from exchange(request, self._auth)
        if response.status_code in (401, 403):
            raise SignatureError(
                f"The insurance centre refused the gateway signature (HTTP {response.status_code}).",
                next_step="Check the paasid/secret (TIF) or access key/secret (CSB) in the city profile.",
                gateway=self.name,
            )
        if response.status_code >= 500 or response.status_code == 429:
            raise Unavailable(
                f"The insurance centre answered HTTP {response.status_code}.",
                gateway=self.name,
            )
        try:
            return jsonwire.decode(response.content, type=wire.Answer)
        except msgspec.DecodeError as error:
            raise Unavailable(
                f"The insurance centre's answer could not be read (HTTP {response.status_code}).",
                next_step="Treat the outcome as unknown; gongji queries or reverses before anything else.",
                gateway=self.name,
            ) from error

    @staticmethod
    def _decode(output: msgspec.Raw, kind: type[Any]) -> Any:
        try:
            return jsonwire.decode(output, type=kind)
        except msgspec.DecodeError as error:  # ValidationError included
            raise UntrustedAnswer(
                f"The insurance centre's output is not as documented: {error}",
                next_step="Nothing was trusted from this answer; report it to the centre.",
            ) from error

    # ------------------------------------------------------------ operations

    def sign_in(self) -> Flow[str]:
        output = yield from self._call(
            "9001", {"signIn": {"opter_no": self.institution.operator, "mac": "", "ip": ""}}
        )
        self._sign_no = self._decode(output, wire.SignInAnswer).signinoutb.sign_no
        return self._sign_no

    def person(self, credential: Credential) -> Flow[Holder]:
        require(self, Capability.PERSON_INFO)
        output = yield from self._call(
            "1101",
            {
                "data": {
                    "mdtrt_cert_type": credential.kind.value,
                    "mdtrt_cert_no": transform.cert_no(credential),
                    "card_sn": credential.card_sn,
                }
            },
        )
        return _trusted(
            "1101", lambda: transform.person_from(self._decode(output, wire.PersonAnswer))
        )

    def bindings(
        self, beneficiary: Holder
    ) -> Flow[tuple[tuple[Binding, ...], dict[IdNumber, Person]]]:
        require(self, Capability.BINDINGS)
        output = yield from self._call("X101", {"data": {"psn_no": beneficiary.psn_no}})
        answer = self._decode(output, wire.BindingsAnswer)
        return _trusted("X101", lambda: transform.bindings_from(answer, beneficiary.person.id))

    def pre_settle(self, request: SettlementRequest) -> Flow[CentreSettlement]:
        require(self, Capability.PRE_SETTLE)
        infno = "2101" if request.setting is Setting.PHARMACY else "2206"
        return (yield from self._settlement(infno, request, None))

    def settle(self, request: SettlementRequest, msgid: str) -> Flow[CentreSettlement]:
        require(self, Capability.SETTLE)
        infno = "2102" if request.setting is Setting.PHARMACY else "2207"
        return (yield from self._settlement(infno, request, msgid))

    def _settlement(
        self, infno: str, request: SettlementRequest, msgid: str | None
    ) -> Flow[CentreSettlement]:
        """A settlement under ``msgid``; a pre-settlement (a read) under one of its own."""
        data = transform.settle_input(request, extensions=self.profile.extensions)
        output = yield from self._call(infno, data, msgid=msgid)
        answer = self._decode(output, wire.SettlementAnswer)
        return transform.settlement_from(answer, msgid or "")

    def register(self, registration: Registration, msgid: str) -> Flow[str]:
        require(self, Capability.REGISTER)
        output = yield from self._call(
            "2201", transform.registration_input(registration), msgid=msgid
        )
        visit_id: str = self._decode(output, wire.RegistrationAnswer).data.mdtrt_id
        if not visit_id:
            raise UntrustedAnswer(
                "The centre registered the visit without a visit id (mdtrt_id).",
                next_step="Nothing was trusted from this answer; report it to the centre.",
            )
        return visit_id

    def upload_fees(self, visit: Visit, items: tuple[LineItem, ...], msgid: str) -> Flow[Fen]:
        require(self, Capability.UPLOAD_FEES)
        data = transform.fee_upload_input(
            visit, items, self._clock(), extensions=self.profile.extensions
        )
        output = yield from self._call("2204", data, msgid=msgid)
        return transform.fees_accepted(self._decode(output, wire.FeeUploadAnswer))

    def cancel(
        self,
        settlement: CentreSettlement,
        psn_no: str,
        msgid: str,
        setting: Setting = Setting.PHARMACY,
    ) -> Flow[CentreSettlement]:
        require(self, Capability.CANCEL)
        infno = "2103" if setting is Setting.PHARMACY else "2208"
        data = {
            "data": {
                "setl_id": settlement.setl_id,
                "psn_no": psn_no,
                "mdtrt_id": settlement.mdtrt_id,
            }
        }
        output = yield from self._call(infno, data, msgid=msgid)
        answer = self._decode(output, wire.SettlementAnswer)
        return transform.settlement_from(answer, msgid, cancellation=True)

    def reverse(
        self, original_msgid: str, psn_no: str, msgid: str, setting: Setting = Setting.PHARMACY
    ) -> Flow[ReversalState]:
        require(self, Capability.REVERSE)
        oinfno = "2102" if setting is Setting.PHARMACY else "2207"
        output = yield from self._call(
            "2601",
            {"data": {"psn_no": psn_no, "omsgid": original_msgid, "oinfno": oinfno}},
            msgid=msgid,
        )
        state = self._decode(output, wire.ReversalAnswer).gongji_reversal.state
        if state not in _REVERSAL_STATES:
            raise Declined(
                f"The centre answered the reversal with an unknown state {_scrub(state[:40])!r}."
            )
        found: ReversalState = state
        return found

    def day_totals(self, day: datetime.date, expected: DayTotals | None = None) -> Flow[DayTotals]:
        require(self, Capability.RECONCILE)
        data: dict[str, Any] = {
            "stmt_begndate": beijing.wire_day(day),
            "stmt_enddate": beijing.wire_day(day),
        }
        if expected is not None:
            data |= {
                "medfee_sumamt": expected.total.to_yuan(),
                "fund_pay_sumamt": expected.fund.to_yuan(),
                "acct_pay": expected.own_account.to_yuan(),
                "fixmedins_setl_cnt": expected.count,
            }
        output = yield from self._call("3201", {"data": data})
        return transform.totals_from(self._decode(output, wire.TotalsAnswer))

    def day_details(self, day: datetime.date) -> Flow[tuple[CentreDetail, ...]]:
        require(self, Capability.RECONCILE)
        data = {"stmt_begndate": beijing.wire_day(day), "stmt_enddate": beijing.wire_day(day)}
        output = yield from self._call("3202", {"data": data})
        answer = self._decode(output, wire.DetailsAnswer)
        return tuple(transform.detail_from(found) for found in answer.gongji_details)


def _trusted(infno: str, build: Callable[[], _T]) -> _T:
    """Domain objects from a centre's answer; a value the model refuses (a priority of 0,
    a negative balance) is the centre's fault, not the till's input: UntrustedAnswer."""
    try:
        return build()
    except InvalidInput as error:
        raise UntrustedAnswer(
            f"The insurance centre's {infno} answer is not usable: {error.message}",
            next_step="Nothing was trusted from this answer; report it to the centre.",
        ) from error


_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def _scrub(message: str) -> str:
    """The centre's words without a full ID number (some centres echo mdtrt_cert_no)."""
    return _ID_LIKE.sub(lambda found: mask_id(found.group(0)), message)[:300]


def _auth_for(profile: CityProfile, settings: Mapping[str, Any], secret: str) -> httpx.Auth:
    if profile.signing == "csb":
        return CsbAuth(
            CsbSigner(
                access_key=str(settings.get("access_key", "")),
                secret=secret,
                api_name=str(settings.get("api_name", "")),
            )
        )
    return TifAuth(TifSigner(str(settings.get("paasid", "")), secret))
