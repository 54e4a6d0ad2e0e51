"""A city insurance gateway on the national envelope: builds, signs and reads every message.

Each operation is a flow (``gongji.gateways.exchange``). The envelope carries the
institution and operator, a ``msgid`` per message, the ``sign_no`` of the day's
sign-in, and ``inf_time``.

The sign-in cycle (docs/explanation/sign-in.md): 9001 before the first message of each
Beijing day (how long a centre keeps a sign-in is unconfirmed, NATIONAL.md §4; public
clients sign in once a day), 9001 again, once, when the centre no longer knows the
``sign_no`` (a message refused for that was not processed, so sending it again is safe),
and 9002 when the client closes (``sign_out``). Each gateway object keeps its own
sign-in: two tills, or two processes of one till, each have a ``sign_no`` of their own.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import attrs
import httpx
import msgspec
from attrs import frozen

from gongji import clock as beijing
from gongji.catalogue import CatalogueMapping, CataloguePage
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
    CentreDifference,
    CentreSettlement,
    Clearing,
    Holder,
    MsgidJournal,
    MsgidsLater,
    Registration,
    ReversalState,
    RiskFinding,
    RiskStage,
    SettlementRequest,
    StatementLine,
    TotalsVerdict,
    require,
)
from gongji.gateways.exchange import Flow, blocking, exchange
from gongji.gateways.premium import PremiumPaid, PremiumRequest
from gongji.gateways.protocols import allocates_later
from gongji.gateways.secrets import read_secret
from gongji.gateways.uploads import RETURN_UPLOAD, SALE_UPLOAD, Upload
from gongji.identity import Credential, IdNumber, mask_id
from gongji.journal import MemoryJournal
from gongji.model import Binding, ChronicDisease, Diagnosis, LineItem, Person, Setting, Visit
from gongji.money import Fen
from gongji.signing.csb import CsbAuth, CsbSigner
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins import (
    catalogue,
    chronic,
    risk,
    statement,
    traceability,
    transform,
    visit,
    wire,
)
from gongji_cityins.premium import PremiumChannel
from gongji_cityins.risk import RiskSettings
from gongji_cityins.statement import StatementFormat

PATH = "/fsi/api/rsfComIfsService/callService"
#: Where ``gongji mock serve`` listens by default.
MOCK_URL = "http://127.0.0.1:8930"

_T = TypeVar("_T")
# The centre's refusals that must be told apart by their words (NATIONAL.md §3: the exact
# wordings are unconfirmed): region settings on ``CityProfile``, defaulting to the mock's.
SIGN_IN_LOST = ("未签到",)  # an unknown or expired sign_no: not processed
MSGID_TAKEN = ("报文ID重复",)  # a msgid another message already used: not processed
MSGID_REVERSED = ("该报文已被冲正",)  # a msgid a 2601 reversal named: not processed
#: ``Declined.code`` when the centre refused a message, unprocessed, for its msgid alone:
#: the caller may send it again under a new msgid (a journaled one must be journaled anew).
MSGID_REFUSED = "msgid_refused"
_MSGID_TRIES = 4
#: The messages that begin and end a sign-in: neither signs in first, nor again.
_SESSION = ("9001", "9002")
#: How many patients' regions a gateway remembers (the oldest are forgotten first).
_REGIONS_KEPT = 4096
_REGIONS_LOCK = threading.Lock()
_REVERSAL_STATES: tuple[ReversalState, ...] = (
    "reversed",
    "original_refused",
    "original_not_received",
)


@frozen
class CityProfile:
    """What differs from city to city: address, signing, policy pack, and the region's
    dialect of the national interface (docs/reference/config.md lists each setting)."""

    city: str
    region: str  # the pooling region the gateway serves (mdtrtarea_admvs)
    policy: str  # the region's policy pack id
    base_url: str = MOCK_URL
    path: str = PATH
    signing: Literal["tif", "csb"] = "tif"
    #: gongji's documented extensions (X101 bindings, ``gongji_*`` fields): off, as a real
    #: centre refuses them; on only against a mock started with them. Without them a centre
    #: still settles mutual aid; the client then cannot plan it in advance.
    extensions: bool = False
    #: The premium channel's address (``gongji_cityins.premium``): absolute, or a path on
    #: ``base_url``. Empty (the default, and every real city's): no premium on behalf, since
    #: no region is known to take one from a till (unconfirmed: docs/how-to/pay-a-premium.md).
    premium_url: str = ""
    #: The receiver system code the region gives (``recer_sys_code``).
    receiver: str = "YBXT"
    #: 2101/2102 input nodes: "data" (``data`` + ``feedetail``) or "druginfo"
    #: (``druginfo`` + ``drugdetail``). Unconfirmed for Liaoning.
    pharmacy_nodes: Literal["data", "druginfo"] = "data"
    #: ``psn_setlway`` for 2101/2102 where the region asks for it ("01" by item); "" sends none.
    #: 2206/2207 require it: there "" sends "01".
    psn_setlway: str = ""
    #: ``hosp_appr_flag`` of each 2204 line (required): "1" approved by the institution, as
    #: public clients send it; "2" turns a line self-paid. Unconfirmed: set the region's.
    hosp_appr_flag: str = "1"
    #: Whether the centre's ``acct_pay`` includes ``acct_mulaid_pay`` (unconfirmed): read first.
    mutual_aid_reading: Literal["separate", "included"] = "separate"
    #: What the region reads ``acct_used_flag`` as (unconfirmed, NATIONAL.md §13): "account"
    #: (use the personal account at all: 1 for a patient who has one) or "mutual_aid" (the
    #: patient's per-sale choice of mutual aid, seed 002), once the centre confirms it.
    acct_used_flag: Literal["account", "mutual_aid"] = "account"
    #: Whether 2101/2102 lines carry their packs' traceability codes (``drug_trac_info``,
    #: unconfirmed on 2102, NATIONAL.md §7): off, the codes go with 3505 only.
    trace_codes_on_lines: bool = False
    #: How the centre's ``err_msg`` begins when it refuses, unprocessed, an unknown sign-in,
    #: a msgid already used, a msgid already reversed. The defaults are the mock's words.
    sign_in_lost: tuple[str, ...] = SIGN_IN_LOST
    msgid_taken: tuple[str, ...] = MSGID_TAKEN
    msgid_reversed: tuple[str, ...] = MSGID_REVERSED
    #: Reconciliation files and clearing types (3201, 3202, 9101, 9102).
    statement: StatementFormat = attrs.field(factory=StatementFormat)
    #: The output node of 5301 that lists a patient's chronic-disease registrations:
    #: ``feedetail`` in the one public client that reads it (unconfirmed for Liaoning).
    chronic_node: str = chronic.DEFAULT_NODE
    #: ``med_type`` of a sale settled under a chronic or special disease: 14 nationally;
    #: some provinces use a sub-code (e.g. 140104 for chronic-disease drugs at a pharmacy).
    chronic_med_type: str = transform.CHRONIC_MED_TYPE
    #: The centre's rule checks (3101, 3102): off unless the region turns them on.
    risk: RiskSettings = attrs.field(factory=RiskSettings)

    @property
    def dialect(self) -> transform.Dialect:
        header, detail = _NODES[self.pharmacy_nodes]
        return transform.Dialect(
            header_node=header,
            detail_node=detail,
            psn_setlway=self.psn_setlway,
            mutual_aid_reading=self.mutual_aid_reading,
            acct_used_flag=self.acct_used_flag,
            trace_codes_on_lines=self.trace_codes_on_lines,
            extensions=self.extensions,
            chronic_med_type=self.chronic_med_type,
        )


_NODES = {"data": ("data", "feedetail"), "druginfo": ("druginfo", "drugdetail")}

CITIES: Mapping[str, CityProfile] = {
    "dalian": CityProfile(city="dalian", region="210200", policy="liaoning-dalian-2025"),
    "benxi": CityProfile(city="benxi", region="210500", policy="liaoning-benxi-2025"),
}


#: What 9001 sends where the till's MAC and IP address are not configured.
NO_MAC, NO_IP = "00-00-00-00-00-00", "127.0.0.1"


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
    #: The till's MAC and IP address for sign-in (9001 requires both; how strictly
    #: centres check them is unconfirmed). Set them as the region requires.
    mac: str = NO_MAC
    ip: str = NO_IP
    #: The pharmacist on duty and the practice certificate number, as 3505 names them.
    pharmacist: str = ""
    pharmacist_cert_no: str = ""

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
    "premium_url": str,
    "receiver": str,
    "pharmacy_nodes": str,
    "psn_setlway": str,
    "hosp_appr_flag": str,
    "mutual_aid_reading": str,
    "acct_used_flag": str,
    "trace_codes_on_lines": bool,
    "sign_in_lost": list,
    "msgid_taken": list,
    "msgid_reversed": list,
    "chronic_node": str,
    "chronic_med_type": str,
}
#: The settings that take one of a few words.
_OVERRIDE_CHOICES: Mapping[str, tuple[str, ...]] = {
    "signing": ("tif", "csb"),
    "pharmacy_nodes": ("data", "druginfo"),
    "mutual_aid_reading": ("separate", "included"),
    "acct_used_flag": ("account", "mutual_aid"),
}
_WORDINGS = ("sign_in_lost", "msgid_taken", "msgid_reversed")
_OVERRIDE_HELP = (
    "Write base_url, path, policy, premium_url, receiver, psn_setlway, hosp_appr_flag, "
    "chronic_node and chronic_med_type as strings, signing "
    'as "tif" or "csb", pharmacy_nodes as "data" or "druginfo", mutual_aid_reading as '
    '"separate" or "included", acct_used_flag as "account" or "mutual_aid", extensions and '
    "trace_codes_on_lines as true or false, and sign_in_lost, msgid_taken and msgid_reversed "
    "as lists of non-empty strings (docs/reference/config.md)."
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
            Capability.CATALOGUE,
            Capability.TRACE_UPLOAD,
            Capability.SIGN_OUT,
            Capability.DIAGNOSE,
            Capability.WITHDRAW_FEES,
            Capability.CANCEL_REGISTRATION,
            Capability.CHRONIC_DISEASES,
            Capability.RISK_CHECKS,
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
        self._signed_on: datetime.date | None = None  # the Beijing day of that sign-in
        self._regions: dict[str, str] = {}  # psn_no -> insuplc_admdvs, the newest last
        # Where the msgids come from: the client's journal (``with_journal``); alone, a
        # journal of this object's own, so that a gateway driven by hand numbers too.
        self._journal: MsgidJournal = journal if journal is not None else MemoryJournal()
        capabilities = (
            self.DECLARED if profile.extensions else self.DECLARED - {Capability.BINDINGS}
        )
        if not profile.risk.enabled:  # asked only where the region turns them on
            capabilities -= {Capability.RISK_CHECKS}
        self._premium: PremiumChannel | None = None
        if profile.premium_url:
            # A premium channel only where the profile names one (off for real centres).
            url = profile.premium_url
            if url.startswith("/"):
                url = profile.base_url.rstrip("/") + url
            self._premium = PremiumChannel(url=url, institution=institution, auth=auth, clock=clock)
            capabilities |= {Capability.PREMIUM}
        self.capabilities = capabilities

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
        overrides = {key: settings[key] for key in _OVERRIDE_TYPES if key in settings}
        for key, value in overrides.items():
            wording = key in _WORDINGS and (
                not value or not all(isinstance(v, str) and v for v in value)
            )
            if (
                not isinstance(value, _OVERRIDE_TYPES[key])
                or value not in _OVERRIDE_CHOICES.get(key, (value,))
                or wording
            ):
                raise ConfigError(
                    f"gateway.{key} is a {type(value).__name__} it cannot be.",
                    next_step=_OVERRIDE_HELP,
                )
            if key in _WORDINGS and isinstance(value, list):
                overrides[key] = tuple(value)
        profile = CITIES[city]
        if overrides:
            profile = attrs.evolve(profile, **overrides)
        if "statement" in settings:
            form = StatementFormat.from_settings(settings["statement"])
            profile = attrs.evolve(profile, statement=form)
        if "risk" in settings:
            profile = attrs.evolve(profile, risk=RiskSettings.from_settings(settings["risk"]))
        institution = Institution(
            code=str(settings.get("institution_code", "")),
            name=str(settings.get("institution_name", "")),
            operator=str(settings.get("operator", "001")),
            operator_name=str(settings.get("operator_name", "收银员")),
            till=settings.get("till"),
            mac=str(settings.get("mac", NO_MAC)),
            ip=str(settings.get("ip", NO_IP)),
            pharmacist=str(settings.get("pharmacist", "")),
            pharmacist_cert_no=str(settings.get("pharmacist_cert_no", "")),
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
        if not durable:  # most ids come from a block reserved already: no step to wait on
            given = journal.reserved_msgid(
                institution.code, at, institution.till, key=key, purpose=purpose
            )
            if given is not None:
                return given
        where = (institution.code, at, institution.till)
        asked: dict[str, Any] = {"key": key, "purpose": purpose, "durable": durable}
        later = None
        if allocates_later(type(journal)):  # handed over, told the id: no thread waits
            handing = cast(MsgidsLater, journal)
            later = lambda tell, soon: handing.allocate_later(  # noqa: E731
                *where, **asked, tell=tell, soon=soon
            )
        return (
            yield from blocking(
                lambda: journal.allocate_msgid(*where, **asked),
                blocks=journal.blocks,
                later=later,
            )
        )

    def _request(self, infno: str, data: Any, msgid: str, insured_in: str) -> httpx.Request:
        envelope = wire.Envelope(
            infno=infno,
            msgid=msgid,
            mdtrtarea_admvs=self.region,
            insuplc_admdvs=insured_in or self.region,
            recer_sys_code=self.profile.receiver,
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
        if infno not in _SESSION and not self._signed_in_today():
            yield from self.sign_in()
        ours = msgid is None  # a write's msgid is the caller's (journaled); a read's is ours
        # A sign-in's or sign-out's id is recorded as that; any other of ours as a read.
        purpose = infno if infno in _SESSION else "read"
        if msgid is None:
            # A read's id is committed without its own fsync: the sale's next durable write
            # carries it, and lost with the power it could only make a later message be
            # refused as taken, unprocessed, which is sent again under a new id.
            msgid = yield from self.new_msgid(purpose=purpose, durable=False)
        signed_in_again = False
        for attempt in range(1, _MSGID_TRIES + 1):
            answer = yield from self._send(self._request(infno, data, msgid, insured_in))
            if answer.succeeded:
                return answer.output
            message = _scrub(answer.err_msg or "")
            profile = self.profile
            lost = infno not in _SESSION and _says(message, profile.sign_in_lost)
            if lost and not signed_in_again:
                signed_in_again = True
                yield from self.sign_in()  # not processed: the same msgid may go again
                continue
            unusable = _says(message, (*profile.msgid_taken, *profile.msgid_reversed))
            if unusable and ours and attempt < _MSGID_TRIES:
                # Another message (of a till numbering from another journal) had it; ours
                # was not processed: send it again under a new one.
                msgid = yield from self.new_msgid(purpose=purpose, durable=False)
                continue
            raise Declined(
                f"The insurance centre refused {infno}: {message[:300]}",
                infcode=str(answer.infcode)[:10],
                err_msg=message[:300],
                gateway=self.name,
                request_id=msgid,
                code=MSGID_REFUSED if unusable else None,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, request: httpx.Request) -> Flow[wire.Answer]:
        response = yield from self._exchange(request)
        return self._answer(response)

    def _exchange(self, request: httpx.Request) -> Flow[httpx.Response]:
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
        return response

    def _answer(self, response: httpx.Response) -> wire.Answer:
        try:
            return wire.decode(response.content, wire.Answer)
        except msgspec.DecodeError as error:
            raise Unavailable(
                f"The insurance centre's answer could not be read (HTTP {response.status_code}).",
                next_step="Treat the outcome as unknown; gongji queries or reverses before anything else.",
                gateway=self.name,
            ) from error

    @staticmethod
    def _decode(output: msgspec.Raw, kind: type[Any]) -> Any:
        try:
            return wire.decode(output, kind)
        except msgspec.DecodeError as error:  # ValidationError included
            raise UntrustedAnswer(
                f"The insurance centre's output is not as documented: {error}",
                next_step="Nothing was trusted from this answer; report it to the centre.",
            ) from error

    def _download(self, infno: str, data: Any) -> Flow[bytes]:
        """A message answered with a file (9102) rather than an envelope; a refusal is an
        envelope all the same, read as ``_call`` reads one."""
        if not self._signed_in_today():
            yield from self.sign_in()
        for attempt in (1, 2):
            msgid = yield from self.new_msgid(durable=False)
            response = yield from self._exchange(self._request(infno, data, msgid, ""))
            if statement.is_file(response.content):
                return response.content
            answer = self._answer(response)
            message = _scrub(answer.err_msg or "")
            if attempt == 1 and _says(message, self.profile.sign_in_lost):
                yield from self.sign_in()  # not processed: it may go again
                continue
            raise Declined(
                f"The insurance centre refused {infno}: {message[:300] or 'no file'}",
                infcode=str(answer.infcode),
                err_msg=message[:300],
                gateway=self.name,
                request_id=msgid,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------ operations

    def _signed_in_today(self) -> bool:
        """A sign-in of this Beijing day, whatever the OS time zone: a new day signs in
        anew before its first message."""
        return self._sign_no is not None and self._signed_on == beijing.today(self._clock)

    def sign_in(self) -> Flow[str]:
        """9001: a new ``sign_no`` for every later message, dated by the Beijing day it was
        asked on (a 9001 sent at 23:59:59 is the old day's: the next day signs in again)."""
        day = beijing.today(self._clock)
        output = yield from self._call(
            "9001",
            {
                "signIn": {
                    "opter_no": self.institution.operator,
                    "mac": self.institution.mac,
                    "ip": self.institution.ip,
                }
            },
        )
        answer: wire.SignInAnswer = self._decode(output, wire.SignInAnswer)
        sign_no = answer.signinoutb.sign_no  # sent back exactly as given
        if not sign_no.strip():
            raise UntrustedAnswer(
                "The centre signed the till in (9001) without a sign_no.",
                next_step="Nothing was trusted from this answer; report it to the centre.",
            )
        self._sign_no, self._signed_on = sign_no, day
        return sign_no

    def sign_out(self) -> Flow[bool]:
        """9002: end this gateway's sign-in; False, with nothing sent, when it has none.

        The sign-in is forgotten whatever the answer (a message after it signs in anew). A
        centre that no longer knows the ``sign_no`` (the region's ``sign_in_lost`` words:
        it ended the sign-in itself, e.g. at midnight) has nothing to end: False. Any
        other refusal or a lost answer is raised, for the caller to log."""
        sign_no, operator = self._sign_no, self.institution.operator
        if sign_no is None:
            return False
        try:
            yield from self._call("9002", {"signOut": {"sign_no": sign_no, "opter_no": operator}})
        except Declined as refused:
            if _says(refused.err_msg or "", self.profile.sign_in_lost):
                return False
            raise
        finally:
            # The sign-in this gateway held is over for it either way (the envelope of the
            # 9002 carried it); another sign-in made meanwhile is not this one's to drop.
            if self._sign_no == sign_no:
                self._sign_no, self._signed_on = None, None
        return True

    def person(self, credential: Credential) -> Flow[Holder]:
        require(self, Capability.PERSON_INFO)
        if not credential.ready:
            # The QR code is not the token (NATIONAL.md §5): a centre refuses it.
            raise ConfigError(
                "An e-voucher's QR text went to 1101 undecoded.",
                next_step="Decode it with the profile's e-voucher decoder first "
                "(the client does); nothing was sent.",
            )
        query: dict[str, Any] = {
            "mdtrt_cert_type": credential.kind.value,
            "mdtrt_cert_no": transform.cert_no(credential),
        }
        if credential.card_sn:
            query["card_sn"] = credential.card_sn
        # Whom the card or the decoded e-voucher says insures the holder, if it says.
        output = yield from self._call("1101", {"data": query}, insured_in=credential.region)
        holder: Holder = _trusted(
            "1101",
            lambda: transform.person_from(
                self._decode(output, wire.PersonAnswer), self.profile.dialect
            ),
        )
        self._remember_region(holder.psn_no, holder.person.insurance.region)
        return holder

    def _remember_region(self, psn_no: str, region: str) -> None:
        """The patient's region of insurance, from the entry 1101 chose: every later call
        for the patient names it (``insuplc_admdvs``), also a refund without a 1101 first."""
        if psn_no and region:
            with _REGIONS_LOCK:
                self._regions.pop(psn_no, None)
                self._regions[psn_no] = region
                while len(self._regions) > _REGIONS_KEPT:
                    del self._regions[next(iter(self._regions))]

    def insured_in(self, psn_no: str) -> str:
        """The region of insurance 1101 gave for ``psn_no`` in this process ("" unknown)."""
        with _REGIONS_LOCK:
            return self._regions.get(psn_no, "")

    def bindings(
        self, beneficiary: Holder
    ) -> Flow[tuple[tuple[Binding, ...], dict[IdNumber, Person]]]:
        require(self, Capability.BINDINGS)
        output = yield from self._call(
            "X101",
            {"data": {"psn_no": beneficiary.psn_no}},
            insured_in=beneficiary.person.insurance.region,
        )
        answer = self._decode(output, wire.BindingsAnswer)
        return _trusted("X101", lambda: transform.bindings_from(answer, beneficiary.person.id))

    def chronic_diseases(self, holder: Holder) -> Flow[tuple[ChronicDisease, ...]]:
        """5301: the chronic or special diseases registered for ``holder``, with their dates."""
        require(self, Capability.CHRONIC_DISEASES)
        output = yield from self._call(
            chronic.INFNO,
            chronic.query_input(holder.psn_no),
            insured_in=holder.person.insurance.region,
        )
        node = self.profile.chronic_node
        return _trusted(chronic.INFNO, lambda: chronic.diseases_from(output, node))

    def pre_settle(self, request: SettlementRequest) -> Flow[CentreSettlement]:
        require(self, Capability.PRE_SETTLE)
        traceability.check_uploadable(request, self.institution.pharmacist_cert_no)
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
        region = request.patient.insurance.region
        self._remember_region(request.psn_no, region)
        if request.visit_id:
            data = visit.settlement_input(request, self._clock(), self.profile.dialect)
        else:
            data = transform.settle_input(request, self._clock(), self.profile.dialect)
        output = yield from self._call(infno, data, msgid=msgid, insured_in=region)
        answer = self._decode(output, wire.SettlementAnswer)
        settled = _trusted(
            infno,
            lambda: transform.settlement_from(answer, msgid or "", dialect=self.profile.dialect),
        )
        info = answer.setlinfo
        clearing = statement.clearing_of(
            info.insutype or "",
            info.clr_type or "",
            info.clr_optins or "",
            request,
            self.profile.statement,
            self.region,
        )
        return attrs.evolve(settled, clearing=clearing)

    # ------------------------------------------------------------ the clinic visit (2201-2205)

    def register(self, registration: Registration, msgid: str) -> Flow[str]:
        require(self, Capability.REGISTER)
        region = registration.patient.insurance.region
        self._remember_region(registration.psn_no, region)
        data = visit.registration_input(registration)
        output = yield from self._call("2201", data, msgid=msgid, insured_in=region)
        return visit.registered(self._decode(output, visit.RegistrationAnswer))

    def cancel_registration(self, registered: Visit, msgid: str) -> Flow[None]:
        require(self, Capability.CANCEL_REGISTRATION)
        data = visit.cancellation_input(registered)
        yield from self._call("2202", data, msgid=msgid, insured_in=self._visit_region(registered))

    def diagnose(
        self, registered: Visit, diagnoses: tuple[Diagnosis, ...], msgid: str
    ) -> Flow[None]:
        require(self, Capability.DIAGNOSE)
        data = visit.diagnosis_input(registered, diagnoses, self._clock())
        yield from self._call("2203", data, msgid=msgid, insured_in=self._visit_region(registered))

    def upload_fees(self, registered: Visit, items: tuple[LineItem, ...], msgid: str) -> Flow[Fen]:
        require(self, Capability.UPLOAD_FEES)
        data = visit.fee_upload_input(
            registered,
            items,
            self._clock(),
            approval=self.profile.hosp_appr_flag,
            extensions=self.profile.extensions,
        )
        region = self._visit_region(registered)
        output = yield from self._call("2204", data, msgid=msgid, insured_in=region)
        return visit.fees_accepted(self._decode(output, visit.FeeUploadAnswer))

    def _visit_region(self, registered: Visit) -> str:
        """The patient's region of insurance: the visit's, else the one 1101 gave here."""
        return registered.insured_in or self.insured_in(registered.psn_no)

    def withdraw_fees(self, registered: Visit, msgid: str) -> Flow[None]:
        require(self, Capability.WITHDRAW_FEES)
        data = visit.withdrawal_input(registered)
        yield from self._call("2205", data, msgid=msgid, insured_in=self._visit_region(registered))

    def cancel(
        self,
        settlement: CentreSettlement,
        psn_no: str,
        msgid: str,
        setting: Setting = Setting.PHARMACY,
        *,
        insured_in: str = "",
    ) -> Flow[CentreSettlement]:
        """2103 / 2208. ``insured_in``: the patient's region (the journal keeps it); else
        the one 1101 gave in this process, else the gateway's own."""
        require(self, Capability.CANCEL)
        infno = "2103" if setting is Setting.PHARMACY else "2208"
        data = {
            "data": {
                "setl_id": settlement.setl_id,
                "mdtrt_id": settlement.mdtrt_id,
                "psn_no": psn_no,
            }
        }
        region = insured_in or self.insured_in(psn_no)
        output = yield from self._call(infno, data, msgid=msgid, insured_in=region)
        answer = self._decode(output, wire.SettlementAnswer)
        return _trusted(
            infno,
            lambda: transform.settlement_from(
                answer, msgid, cancellation=True, dialect=self.profile.dialect
            ),
        )

    def reverse(
        self,
        original_msgid: str,
        psn_no: str,
        msgid: str,
        setting: Setting = Setting.PHARMACY,
        *,
        insured_in: str = "",
    ) -> Flow[ReversalState]:
        """2601. Success is ``infcode`` 0, and a real centre's output is empty: the
        original is undone if the centre processed it, so the sale ends ``reversed``.
        gongji's extension (a mock with extensions) says more: read only where the profile
        turned extensions on, as the settlement's extension fields are."""
        require(self, Capability.REVERSE)
        oinfno = "2102" if setting is Setting.PHARMACY else "2207"
        output = yield from self._call(
            "2601",
            {"data": {"psn_no": psn_no, "omsgid": original_msgid, "oinfno": oinfno}},
            msgid=msgid,
            insured_in=insured_in or self.insured_in(psn_no),
        )
        if not self.profile.extensions or bytes(output).strip() in (b"", b"null", b"{}"):
            return "reversed"
        found = self._decode(output, wire.ReversalAnswer).gongji_reversal
        if found is None:
            return "reversed"
        state = found.state
        if state not in _REVERSAL_STATES:
            raise Declined(
                f"The centre answered the reversal with an unknown state {_scrub(state[:40])!r}."
            )
        reversal: ReversalState = state
        return reversal

    # ------------------------------------------------------------ 3101 / 3102 (rule checks)

    def risk_check(
        self, stage: RiskStage, request: SettlementRequest, pre: CentreSettlement | None = None
    ) -> Flow[tuple[RiskFinding, ...]]:
        require(self, Capability.RISK_CHECKS)
        task_id = yield from self.new_msgid(durable=False)  # unique per request, as task_id is
        i, settings = self.institution, self.profile.risk
        medins = risk.Medins(code=i.code, name=i.name, region=self.region)
        data = risk.check_input(
            stage,
            request,
            pre,
            settings,
            medins,
            task_id,
            self._clock(),
            chronic_med_type=self.profile.chronic_med_type,
        )
        region = request.patient.insurance.region
        output = yield from self._call(stage.value, data, insured_in=region)
        return risk.findings_from(output, stage, settings)

    # ------------------------------------------------------------ 3505 / 3506 (traceability)

    def sale_uploads(
        self,
        request: SettlementRequest,
        settlement: CentreSettlement,
        sale: str,
        at: datetime.datetime,
    ) -> Flow[tuple[Upload, ...]]:
        inputs = traceability.sale_inputs(request, settlement, sale, at, self._pharmacy())
        msgids = yield from self._msgids(len(inputs), sale, SALE_UPLOAD)
        return traceability.uploads(SALE_UPLOAD, inputs, msgids, request.patient.insurance.region)

    def return_uploads(
        self, sold: tuple[Upload, ...], sale: str, at: datetime.datetime
    ) -> Flow[tuple[Upload, ...]]:
        inputs = [traceability.return_input(json.loads(u.payload), sale, at) for u in sold]
        msgids = yield from self._msgids(len(inputs), sale, RETURN_UPLOAD)
        region = sold[0].insured_in if sold else ""
        return traceability.uploads(RETURN_UPLOAD, inputs, msgids, region)

    def _msgids(self, count: int, sale: str, infno: str) -> Flow[list[str]]:
        """Msgids for uploads journaled with the sale: durable with the entry that keeps them."""
        msgids = []
        for _ in range(count):
            msgids.append((yield from self.new_msgid(key=sale, purpose=infno, durable=False)))
        return msgids

    def upload(self, upload: Upload) -> Flow[None]:
        require(self, Capability.TRACE_UPLOAD)
        yield from self._call(
            upload.infno,
            json.loads(upload.payload),
            msgid=upload.msgid,
            insured_in=upload.insured_in,
        )

    def _pharmacy(self) -> traceability.Pharmacy:
        i = self.institution
        return traceability.Pharmacy(
            operator_name=i.operator_name,
            pharmacist=i.pharmacist or i.operator_name,
            pharmacist_cert_no=i.pharmacist_cert_no,
        )

    def day_totals(
        self, day: datetime.date, clearing: Clearing, lines: Sequence[StatementLine]
    ) -> Flow[TotalsVerdict]:
        require(self, Capability.RECONCILE)
        clearing = statement.completed(clearing, lines, self.profile.statement, self.region)
        output = yield from self._call("3201", statement.totals_input(day, clearing, lines))
        answer = self._decode(output, statement.TotalsAnswer)
        return statement.verdict_from(answer, clearing, lines)

    def day_details(
        self, day: datetime.date, setl_optins: str, lines: Sequence[StatementLine]
    ) -> Flow[tuple[CentreDifference, ...]]:
        """The details file up (9101), compared (3202), the centre's result down (9102)."""
        require(self, Capability.RECONCILE)
        form, institution = self.profile.statement, self.institution.code
        name, content = statement.details_file(day, setl_optins, lines, form, institution)
        output = yield from self._call(
            "9101", statement.upload_input(content, name, institution, form)
        )
        uploaded = self._decode(output, statement.UploadAnswer)
        data = statement.details_input(day, setl_optins, uploaded.file_qury_no, lines)
        output = yield from self._call("3202", data)
        result = self._decode(output, statement.DetailsAnswer).fileinfo
        content = yield from self._download("9102", statement.download_input(result, institution))
        return tuple(
            attrs.evolve(found, memo=_scrub(found.memo))
            for found in statement.differences_from(content, form)
        )

    def catalogue_page(
        self, since: datetime.datetime | None, page: int, page_size: int
    ) -> Flow[CataloguePage]:
        """One page of the national catalogue's records updated since ``since`` (1312)."""
        require(self, Capability.CATALOGUE)
        data = catalogue.query_input(since, page, page_size, self.region)
        output = yield from self._call("1312", data)
        return catalogue.page_from(self._decode(output, catalogue.CataloguePageOut), page)

    def upload_mapping(self, mapping: CatalogueMapping) -> Flow[None]:
        """One SKU-to-national-code mapping (3301)."""
        require(self, Capability.CATALOGUE)
        yield from self._call("3301", catalogue.mapping_input(mapping))

    def pay_premium(self, request: PremiumRequest, msgid: str) -> Flow[PremiumPaid]:
        """A relative's premium, paid through the profile's premium channel (not a 2102)."""
        require(self, Capability.PREMIUM)
        assert self._premium is not None  # declared only with a channel
        return (yield from self._premium.pay(request, msgid))

    def reverse_premium(
        self, original_msgid: str, payer_psn_no: str, msgid: str
    ) -> Flow[ReversalState]:
        require(self, Capability.PREMIUM)
        assert self._premium is not None
        return (yield from self._premium.reverse(original_msgid, payer_psn_no, msgid))


def _says(message: str, wordings: tuple[str, ...]) -> bool:
    """The centre's ``err_msg`` begins with one of the region's wordings for a refusal."""
    return message.strip().startswith(wordings)


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
