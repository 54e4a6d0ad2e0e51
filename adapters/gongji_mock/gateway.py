"""``MockGateway``: the mock's public face. One object holds the centre's state and
answers every protocol it speaks, routed by path; integrators and tests use it in
process through ``transport()``, and ``gongji mock serve`` puts it behind uvicorn.
"""

from __future__ import annotations

import datetime
import functools
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

from gongji import clock as beijing
from gongji import jsonwire
from gongji.identity import Credential, IdNumber
from gongji.money import Fen
from gongji.signing._common import MemoryNonceCache
from gongji_mock.alipay import PATH as ALIPAY_PATH
from gongji_mock.centre.cards import card_of
from gongji_mock.centre.dataset import Dataset, demo_dataset, load_dataset
from gongji_mock.centre.decisions import Centre, Clock
from gongji_mock.faults import CallbackOutbox, Decision, FaultKind, Faults
from gongji_mock.national.endpoint import PATH as NATIONAL_PATH
from gongji_mock.national.endpoint import NationalEndpoint
from gongji_mock.national.schema import DATA_NODES, PharmacyNodes
from gongji_mock.national.vouchers import EC_QUERY_PATH, VoucherEndpoint, qr_text
from gongji_mock.premium.collector import Collector
from gongji_mock.premium.endpoint import PREFIX as PREMIUM_PREFIX
from gongji_mock.premium.endpoint import PremiumEndpoint
from gongji_mock.recent import RecentRequests
from gongji_mock.records import Table
from gongji_mock.server.admin import PREFIX as ADMIN_PREFIX
from gongji_mock.server.admin import AdminEndpoint
from gongji_mock.server.dashboard import PREFIX as DASHBOARD_PREFIX
from gongji_mock.server.dashboard import DashboardPage
from gongji_mock.server.delivery import CallbackDelivery
from gongji_mock.wechatpay import PREFIX as WECHATPAY_PREFIX

if TYPE_CHECKING:
    from gongji_mock.alipay.endpoint import AlipayEndpoint
    from gongji_mock.national.risk import RiskRules
    from gongji_mock.statefile import MockState
    from gongji_mock.testkeys import MockKeys
    from gongji_mock.wechatpay.endpoint import WechatPayEndpoint

#: The TIF caller the mock knows out of the box. Test values, published on purpose:
#: the mock moves no real money, and a POS rehearsing against it needs them.
DEFAULT_PAASID = "gongji-mock"
DEFAULT_TIF_SECRET = "gongji-mock-tif-secret"  # noqa: S105 - a documented test credential
#: The CSB caller it knows (a city whose profile signs with CSB), published likewise.
DEFAULT_CSB_ACCESS_KEY = "gongji-mock-csb"
DEFAULT_CSB_SECRET = "gongji-mock-csb-secret"  # noqa: S105 - a documented test credential

Handler = Callable[[httpx.Request], httpx.Response]


class MockGateway:
    """An insurance centre, WeChat Pay and Alipay over one dataset.

    Callbacks are collected in ``mock.wechatpay.notifications`` and
    ``mock.alipay.notifications``. With ``delivery`` (or ``notify_url``, which makes
    one sending every callback there) they are also POSTed, by ``mock.delivery``:
    ``flush()`` sends what is queued, ``start()`` sends in the background.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        clock: Clock | None = None,
        tif_secrets: dict[str, str] | None = None,
        csb_secrets: dict[str, str] | None = None,
        faults: Faults | None = None,
        delivery: CallbackDelivery | None = None,
        notify_url: str | None = None,
        state: str | Path | None = None,
        extensions: bool | None = None,
        nodes: PharmacyNodes = DATA_NODES,
    ) -> None:
        """``extensions``: the national endpoint also reads gongji's extensions (``gongji_*``
        fields, X101); None takes the dataset's ``extensions``. Off, as by default, it is
        strict: only the interface of NATIONAL.md, as a real centre. ``nodes``: the region's
        2101/2102 input (node names; whether lines carry ``drug_trac_info``), as a city
        profile's ``pharmacy_nodes`` and ``trace_codes_on_lines`` say it."""
        self.faults = faults or Faults()
        if delivery is None and notify_url is not None:
            delivery = CallbackDelivery(notify_url=notify_url)
        self.delivery = delivery
        base = clock or beijing.now
        # The clock_skew fault moves the centre's clock, and with it token expiry and the TIF window.
        self.centre = Centre(dataset, clock=lambda: _skewed(base(), self.faults.skew_seconds))
        self._tif_secrets = dict(tif_secrets or {DEFAULT_PAASID: DEFAULT_TIF_SECRET})
        self._csb_secrets = dict(csb_secrets or {DEFAULT_CSB_ACCESS_KEY: DEFAULT_CSB_SECRET})
        # One nonce cache for the centre's gateway: a TIF signature seen at one of its
        # endpoints is a replay at the other.
        nonces = MemoryNonceCache()
        self.national = NationalEndpoint(
            self.centre,
            secrets_by_paasid=self._tif_secrets,
            secrets_by_access_key=self._csb_secrets,
            nonce_cache=nonces,
            extensions=dataset.extensions if extensions is None else extensions,
            nodes=nodes,
        )
        # The mock's own premium channel (not the national interface): gongji_mock.premium.
        self.premium = PremiumEndpoint(
            Collector(self.centre),
            self.national.people,
            lock=self.national.lock,
            secrets_by_paasid=self._tif_secrets,
            secrets_by_access_key=self._csb_secrets,
            nonce_cache=nonces,
        )
        # Each protocol owns an exact path or a path prefix (e.g. "/v3/" for WeChat Pay).
        self._routes: dict[str, Handler] = {}
        self._prefixes: list[tuple[str, Handler]] = []
        self._targets: dict[str, str] = {}
        self.mount(NATIONAL_PATH, self.national)
        self.mount(PREMIUM_PREFIX, self.premium, target="premium")
        self.mount(EC_QUERY_PATH, VoucherEndpoint(self.centre), target="e-voucher")
        self.mount(ADMIN_PREFIX, AdminEndpoint(self), target="admin")
        # The dashboard: its page at "/", its script and style under /dashboard/.
        page = DashboardPage()
        self.mount("/", page, target="admin")
        self.mount(DASHBOARD_PREFIX, page, target="admin")
        # What the protocols were asked lately, and how the mock answered (not admin calls).
        self.recent = RecentRequests()
        # WeChat Pay and Alipay are made when first used (``wechatpay``, ``alipay``): their
        # test keys take about 100 ms each to generate, and a preview never needs them.
        self.mount(WECHATPAY_PREFIX, lambda request: self.wechatpay.handle(request))
        self.mount(ALIPAY_PATH, lambda request: self.alipay.handle(request))
        # The channels start with this process's test keys; a state file replaces them (use_keys).
        self._keys: MockKeys | None = None
        # With a state file, restore from it (or start it), and write to it after each request.
        self._state = self._open_state(state) if state is not None else None

    @functools.cached_property
    def wechatpay(self) -> WechatPayEndpoint:
        """The mock's WeChat Pay. It keeps the centre's time, so moving that moves its windows
        too; med-ins payers are checked against the people the centre insures."""
        from gongji.signing.wechatpay_medins import id_digest
        from gongji_mock.wechatpay.endpoint import WechatPayEndpoint

        people = self.centre.dataset.people.values()
        endpoint = WechatPayEndpoint(
            clock=lambda: self.centre.clock().timestamp(),
            insured={id_digest(person.id): person.name for person in people},
        )
        # Callbacks go out through an outbox that applies the duplicate / out-of-order faults.
        endpoint.notifications = CallbackOutbox(self.faults, "wechatpay", self.delivery)
        return endpoint

    @functools.cached_property
    def alipay(self) -> AlipayEndpoint:
        """The mock's Alipay, on the centre's time."""
        from gongji_mock.alipay.endpoint import AlipayEndpoint

        endpoint = AlipayEndpoint(clock=lambda: self.centre.clock().timestamp())
        endpoint.notifications = CallbackOutbox(self.faults, "alipay", self.delivery)
        return endpoint

    def mount(self, path: str, handler: Handler, *, target: str | None = None) -> None:
        """Serve ``path`` (exact), or every path under it when it ends with "/", with ``handler``.

        "/" itself is exact: the dashboard's page, not a catch-all.

        ``target`` names the protocol for fault rules (national, wechatpay, alipay).
        """
        self._targets[path] = target or _TARGET_BY_PATH.get(path, "*")
        if path.endswith("/") and path != "/":
            # Mounting a path again replaces what was there.
            self._prefixes = [(p, h) for p, h in self._prefixes if p != path]
            self._prefixes.append((path, handler))
            self._prefixes.sort(key=lambda route: -len(route[0]))  # the longest prefix wins
        else:
            self._routes[path] = handler

    @classmethod
    def demo(
        cls, *, state: str | Path | None = None, extensions: bool | None = None
    ) -> MockGateway:
        """The Zhang family of seed 000, in Dalian. ``state``, ``extensions``: see ``__init__``."""
        return cls(demo_dataset(), state=state, extensions=extensions)

    @classmethod
    def load(
        cls, path: str | Path, *, state: str | Path | None = None, extensions: bool | None = None
    ) -> MockGateway:
        """A mock over a dataset file (docs/reference/dataset.md); bad data fails with the line.

        ``state``: a SQLite file that keeps the mock's state across restarts
        (docs/reference/mock-state.md); without it, state lives in memory only.
        """
        return cls(load_dataset(Path(path)), state=state, extensions=extensions)

    # ------------------------------------------------------------ serving

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request, whatever protocol it speaks, with the faults in force.

        With a state file, what the request changed is written before the answer is
        returned (also when a fault then drops the answer: it was committed).
        """
        if self._state is None:
            return self._answer(request)
        target = self._target_of(request.url.path)
        if target == "admin" and request.method == "GET":
            return self._answer(request)  # reading the state or the page changes nothing
        try:
            return self._answer(request)
        finally:
            self._state.save(target)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path in self._routes:
            mounted, handler = path, self._routes[path]
        else:
            found = next(((p, h) for p, h in self._prefixes if path.startswith(p)), None)
            if found is None:
                response = httpx.Response(
                    404,
                    json={"error": "not_found", "message": f"The mock serves no {path[:80]!r}."},
                )
                self.recent.record(request, "*", path, response)
                return response
            mounted, handler = found
        target = self._targets.get(mounted, "*")
        if target == "admin":  # the admin endpoint and the dashboard never misbehave
            return handler(request)
        code = _code_of(target, request)
        decision = self.faults.decide(target, code) if self.faults.rules else _NO_FAULT
        try:
            response = _with_faults(decision, handler, request)
        except httpx.TransportError:
            self.recent.record(request, target, code, None, decision.kinds)
            raise
        self.recent.record(request, target, code, response, decision.kinds)
        return response

    def _target_of(self, path: str) -> str:
        mounted = path if path in self._routes else None
        if mounted is None:
            mounted = next((p for p, _ in self._prefixes if path.startswith(p)), "")
        return self._targets.get(mounted, "*")

    def transport(self) -> httpx.MockTransport:
        """An in-process transport for ``httpx.Client`` and ``httpx.AsyncClient``."""
        return httpx.MockTransport(self.handle)

    # ------------------------------------------------------------ the state file

    def tables(self) -> list[Table[Any, Any]]:
        """Every record the mock keeps (``gongji_mock.records``): what a state file holds."""
        return [
            *self.national.tables(),
            *self.premium.collector.tables(),
            *self.wechatpay.tables(),
            *self.alipay.tables(),
        ]

    def _open_state(self, path: str | Path) -> MockState:
        from gongji_mock.statefile import MockState, Room  # only a served mock with --state

        centre = Room(
            self.national.lock, [*self.national.tables(), *self.premium.collector.tables()]
        )
        return MockState(
            path,
            dataset=self.centre.dataset,
            # What a request to each protocol can change (admin: e-voucher tokens).
            rooms={
                "national": centre,
                "admin": centre,
                "premium": centre,  # the premium channel moves the centre's ledger
                "wechatpay": Room(self.wechatpay.lock, self.wechatpay.tables()),
                "alipay": Room(self.alipay.lock, self.alipay.tables()),
            },
            keys=lambda: self.keys,
            use_keys=self.use_keys,
        )

    def save(self) -> None:
        """Write what changed to the state file now; nothing to do without one.

        Requests are written as they are answered; call this after changing the
        mock's components directly in Python (``mock.centre...``).
        """
        if self._state is not None:
            self._state.save()

    def close(self) -> None:
        """Close the state file, if there is one (everything answered is already written)."""
        if self._state is not None:
            self._state.close()

    # ------------------------------------------------------------ the mock's test keys

    @property
    def extensions(self) -> bool:
        """Whether the national endpoint reads gongji's extensions (else it is strict)."""
        return self.national.extensions

    @property
    def keys(self) -> MockKeys:
        """The channels' keys in force, as PEM: test keys (the mock moves no real money)."""
        if self._keys is None:
            from gongji_mock.testkeys import MockKeys

            self._keys = MockKeys.of_this_process()
        return self._keys

    def use_keys(self, keys: MockKeys) -> None:
        """Answer with these keys instead of this process's (a state file keeps them)."""
        from gongji.signing.keys import load_private_key

        self.wechatpay.use_keys(
            platform_key=load_private_key(keys.wechatpay_platform),
            merchant_key=load_private_key(keys.wechatpay_merchant),
            apiv3_key=keys.wechatpay_apiv3,
        )
        self.alipay.use_keys(
            alipay_key=load_private_key(keys.alipay_platform),
            app_key=load_private_key(keys.alipay_app),
        )
        self._keys = keys

    def tif_caller(self) -> tuple[str, str]:
        """A TIF caller the mock knows, ``(paasid, secret)``: the published default when it
        knows that one, else the first it was given."""
        if DEFAULT_PAASID in self._tif_secrets:
            return DEFAULT_PAASID, self._tif_secrets[DEFAULT_PAASID]
        return next(iter(self._tif_secrets.items()))

    def csb_caller(self) -> tuple[str, str]:
        """A CSB caller the mock knows, ``(access_key, secret)``, for a city signing with CSB."""
        if DEFAULT_CSB_ACCESS_KEY in self._csb_secrets:
            return DEFAULT_CSB_ACCESS_KEY, self._csb_secrets[DEFAULT_CSB_ACCESS_KEY]
        return next(iter(self._csb_secrets.items()))

    # ------------------------------------------------------------ for tests and integrators

    def balance(self, id_number: str) -> Fen:
        """The personal account's balance on the mock's ledger."""
        return self.centre.ledger.balance(IdNumber(id_number))

    def check(self) -> list[str]:
        """Invariant violations of the ledger; empty when it is sound."""
        return self.centre.ledger.check()

    def issue_e_voucher(self, id_number: str) -> str:
        """A fresh e-voucher QR text, as a patient's app shows it: it decodes (``ec.query``)
        to a token valid for five minutes and one settlement."""
        token = self.centre.issue_e_voucher(id_number)
        if self._state is not None:
            self._state.save("admin")
        return qr_text(token)

    def social_card(self, id_number: str) -> Credential:
        """The person's social-security card, as the till's card reader reads it."""
        return card_of(self.centre.person(IdNumber(id_number)))

    @property
    def risk(self) -> RiskRules:
        """The rule set of the centre's checks (3101/3102) and the people flagged for them."""
        return self.national.risk

    def psn_no(self, id_number: str) -> str:
        """The centre's person number for an ID number."""
        return self.national.psn_no(id_number)

    def __repr__(self) -> str:
        people = len(self.centre.dataset.people)
        return f"MockGateway(policy={self.centre.dataset.policy.id!r}, people={people})"


_NO_FAULT = Decision()
_TARGET_BY_PATH = {NATIONAL_PATH: "national", "/v3/": "wechatpay", "/gateway.do": "alipay"}


class _Infno(msgspec.Struct):
    infno: str = ""


def _code_of(target: str, request: httpx.Request) -> str:
    """What a fault rule's ``code`` matches: the infno, the Alipay method, or the path."""
    if target == "national":
        try:
            return jsonwire.decode(request.content, type=_Infno).infno
        except msgspec.DecodeError:
            return ""
    if target == "alipay":
        form = dict(urllib.parse.parse_qsl(request.content.decode("utf-8", "replace")))
        return request.url.params.get("method") or form.get("method", "")
    return request.url.path


def _with_faults(decision: Decision, handler: Handler, request: httpx.Request) -> httpx.Response:
    if decision.latency_ms:
        time.sleep(decision.latency_ms / 1000)
    if FaultKind.ERROR_5XX in decision:
        return httpx.Response(
            503, json={"error": "unavailable", "message": "mock fault: service unavailable"}
        )
    if FaultKind.TIMEOUT_BEFORE_COMMIT in decision:
        raise httpx.ReadTimeout(
            "mock fault: timed out before anything was processed", request=request
        )
    response = handler(request)
    if FaultKind.DROP_AFTER_COMMIT in decision:
        response.read()
        raise httpx.ReadTimeout(
            "mock fault: processed and committed, then the answer was lost", request=request
        )
    if FaultKind.BAD_SIGNATURE in decision:
        return _break_signature(response)
    return response


def _break_signature(response: httpx.Response) -> httpx.Response:
    """The same answer with its signature spoiled (WeChat header or Alipay ``sign``)."""
    body = response.read()
    headers = dict(response.headers)
    for name in list(headers):
        if name.lower() == "wechatpay-signature":
            headers[name] = (
                "A" + headers[name][1:]
                if not headers[name].startswith("A")
                else "B" + headers[name][1:]
            )
    body = body.replace(b'"sign":"', b'"sign":"X', 1)
    headers.pop("content-length", None)
    return httpx.Response(response.status_code, headers=headers, content=body)


def _skewed(now: datetime.datetime, seconds: int) -> datetime.datetime:
    return now + datetime.timedelta(seconds=seconds) if seconds else now
