"""The mock's admin endpoint (``/gongji-admin/``): its state, the invariant check, the
faults in force, and the test keys a POS needs, over HTTP, for integrators driving a
served mock and for the dashboard.

A mock-only endpoint: it moves no money, has no authentication, and the mock listens
on 127.0.0.1 by default: it is for rehearsal on one machine. ID numbers are shown
masked here as everywhere. ``GET /gongji-admin/keys`` is the one deliberate exception
to "no secret in an answer": it hands out the mock's own test credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx
import msgspec

from gongji import jsonwire
from gongji.errors import GongjiError, InvalidInput
from gongji.identity import IdNumber
from gongji_mock.centre.decisions import Centre
from gongji_mock.centre.ledger import Transaction
from gongji_mock.faults import TARGETS, FaultKind, Faults
from gongji_mock.recent import RecentRequests
from gongji_mock.server.delivery import CallbackDelivery

if TYPE_CHECKING:
    from gongji.signing.keys import RsaPublicKey
    from gongji_mock.alipay.endpoint import AlipayEndpoint
    from gongji_mock.national.risk import RiskRules
    from gongji_mock.testkeys import MockKeys
    from gongji_mock.wechatpay.endpoint import WechatPayEndpoint

PREFIX = "/gongji-admin/"
#: Rows of each list the dashboard shows, and the most a ``?limit=`` may ask for.
DASHBOARD_ROWS = 50
MAX_ROWS = 1000


class _FaultRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: str
    target: str = "*"
    code: str = "*"
    percent: int = 100
    times: int | None = None
    latency_ms: int = 0
    skew_seconds: int = 0


class _VoucherRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id_number: str


class _RiskRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A person whose sales the centre's checks (3101/3102) flag (``RiskRules.flag``)."""

    id_number: str
    severity: str = "2"
    stage: Literal["3101", "3102"] = "3101"
    content: str | None = None


class AdminView(Protocol):
    """What the admin endpoint shows and changes of a mock (``MockGateway`` is one)."""

    centre: Centre

    @property
    def wechatpay(self) -> WechatPayEndpoint: ...

    @property
    def alipay(self) -> AlipayEndpoint: ...

    faults: Faults
    delivery: CallbackDelivery | None
    recent: RecentRequests

    @property
    def keys(self) -> MockKeys: ...

    def tif_caller(self) -> tuple[str, str]: ...

    def check(self) -> list[str]: ...

    def psn_no(self, id_number: str) -> str: ...

    def issue_e_voucher(self, id_number: str) -> str: ...

    @property
    def risk(self) -> RiskRules: ...


class AdminEndpoint:
    def __init__(self, mock: AdminView) -> None:
        self.mock = mock

    def __call__(self, request: httpx.Request) -> httpx.Response:
        what = request.url.path[len(PREFIX) :].strip("/")
        try:
            if what == "check" and request.method == "GET":
                return httpx.Response(200, json={"violations": self.mock.check()})
            if what == "state" and request.method == "GET":
                return httpx.Response(200, json=self.state())
            if what == "keys" and request.method == "GET":
                return self._keys()
            if what == "faults":
                return self._faults(request)
            if what == "callbacks" and request.method == "GET":
                return httpx.Response(200, json=self.callbacks())
            if what == "requests" and request.method == "GET":
                return httpx.Response(200, json=self.requests(_limit(request)))
            if what == "ledger" and request.method == "GET":
                return httpx.Response(200, json=self.ledger(_limit(request)))
            if what == "dashboard" and request.method == "GET":
                return httpx.Response(
                    200, json=self.dashboard(), headers={"Cache-Control": "no-store"}
                )
            if what == "callbacks/flush" and request.method == "POST":
                if self.mock.delivery is not None:
                    self.mock.delivery.flush()
                return httpx.Response(200, json=self.callbacks())
            if what == "risk":
                return self._risk(request)
            if what == "e-voucher" and request.method == "POST":
                body = jsonwire.decode(request.content, type=_VoucherRequest)
                return httpx.Response(
                    200, json={"qr_text": self.mock.issue_e_voucher(body.id_number)}
                )
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return httpx.Response(400, json={"error": "bad_request", "message": str(exc)[:200]})
        except GongjiError as exc:
            return httpx.Response(400, json={"error": exc.code, "message": str(exc)})
        return httpx.Response(
            404, json={"error": "not_found", "message": f"No admin resource {what[:40]!r}."}
        )

    def _faults(self, request: httpx.Request) -> httpx.Response:
        faults = self.mock.faults
        if request.method == "POST":
            rule = jsonwire.decode(request.content, type=_FaultRequest)
            faults.add(**msgspec.structs.asdict(rule))
        elif request.method == "DELETE" and request.url.params.get("kind"):
            params = request.url.params
            faults.remove(
                params["kind"], target=params.get("target", "*"), code=params.get("code", "*")
            )
        elif request.method == "DELETE":
            faults.clear()
        elif request.method != "GET":
            return httpx.Response(405, json={"error": "method_not_allowed"})
        return httpx.Response(200, json=self.faults())

    def _risk(self, request: httpx.Request) -> httpx.Response:
        """Flag a person for the centre's checks (POST), or end a flag (DELETE ?id_number=)."""
        rules = self.mock.risk
        if request.method == "POST":
            flag = jsonwire.decode(request.content, type=_RiskRequest)
            content = {"content": flag.content} if flag.content else {}
            rules.flag(flag.id_number, flag.severity, stage=flag.stage, **content)
            who = flag.id_number
        elif request.method == "DELETE" and request.url.params.get("id_number"):
            who = request.url.params["id_number"]
            rules.unflag(who)
        else:
            return httpx.Response(405, json={"error": "method_not_allowed"})
        found = rules.flagged(IdNumber(who))
        flagged = None if found is None else {"severity": found.severity, "stage": found.stage}
        return httpx.Response(200, json={"id": IdNumber(who).masked, "flag": flagged})

    def faults(self) -> dict[str, Any]:
        """The fault rules in force, what was injected by kind, and the kinds and targets known."""
        faults = self.mock.faults
        return {
            "faults": faults.describe(),
            "injected": dict(faults.injected),
            "kinds": [kind.value for kind in FaultKind],
            "targets": sorted(TARGETS),
        }

    def _keys(self) -> httpx.Response:
        keys = self.keys()
        if keys is None:
            return httpx.Response(
                409,
                json={
                    "error": "keys_replaced",
                    "message": "The channels' keys were replaced in Python (use_keys on an "
                    "endpoint), so the mock cannot hand them out; use MockGateway.use_keys().",
                },
            )
        return httpx.Response(200, json=keys, headers={"Cache-Control": "no-store"})

    def keys(self) -> dict[str, Any] | None:
        """What a POS needs to talk to this mock's centre and channels: TEST credentials.

        The mock's own test keys, published on purpose: a mock that moves no real money,
        listening on 127.0.0.1, for a POS in another process to rehearse against it
        (``SettlementClient.from_profile("mock", url=...)``). This is the one answer of
        gongji that carries private keys and secrets; never point a real till at them.
        None when the keys in force are not the ones ``mock.keys`` describes.
        """
        from gongji.signing.keys import load_private_key  # keys are asked for rarely

        mock = self.mock
        keys = mock.keys
        wechatpay, alipay = mock.wechatpay, mock.alipay
        merchant = load_private_key(keys.wechatpay_merchant)
        app = load_private_key(keys.alipay_app)
        if (
            merchant.fingerprint != wechatpay.merchant.private_key.fingerprint
            or app.fingerprint != alipay.app_private_key.fingerprint
        ):
            return None
        paasid, secret = mock.tif_caller()
        return {
            "notice": "Test credentials of a gongji mock gateway, which moves no real money. "
            "Never configure them on a real till.",
            "policy": mock.centre.dataset.policy.id,
            "tif": {"paasid": paasid, "secret": secret},
            "wechatpay": {
                "mchid": wechatpay.merchant.mchid,
                "appid": wechatpay.appid,
                "merchant_serial_no": wechatpay.merchant.serial_no,
                "merchant_private_key": keys.wechatpay_merchant,
                "platform_public_key_id": wechatpay.platform_key_id,
                "platform_public_key": _pem(wechatpay.platform_public_key),
                "apiv3_key": wechatpay.apiv3_key,
            },
            "alipay": {
                "app_id": alipay.app_id,
                "app_private_key": keys.alipay_app,
                "alipay_public_key": _pem(alipay.alipay_public_key),
            },
        }

    def requests(self, limit: int | None = None) -> dict[str, Any]:
        """The protocol requests the mock answered lately, newest first (admin calls aside)."""
        recent = self.mock.recent
        return {
            "total": recent.total,
            "kept": recent.size,
            "requests": [record.as_json() for record in recent.records(limit)],
        }

    def ledger(self, limit: int | None = None) -> dict[str, Any]:
        """The ledger's transactions, newest first, and how many there are."""
        transactions = self.mock.centre.ledger.transactions
        newest = transactions[::-1] if limit is None else transactions[: -limit - 1 : -1]
        return {
            "total": len(transactions),
            "transactions": [self._transaction(t) for t in newest],
        }

    def dashboard(self, limit: int = DASHBOARD_ROWS) -> dict[str, Any]:
        """Everything the dashboard shows, in one answer; long lists cut to the newest ``limit``."""
        state = self.state(ledger=False)
        callbacks = self.callbacks()
        callbacks["deliveries"] = callbacks["deliveries"][: -limit - 1 : -1]
        return {
            "policy": state["policy"],
            "people": state["people"],
            "bindings": state["bindings"],
            "violations": state["violations"],
            "ledger": self.ledger(limit),
            "requests": self.requests(limit),
            "callbacks": callbacks,
            "faults": self.faults(),
        }

    def callbacks(self) -> dict[str, Any]:
        """What the channels sent, and, when the mock delivers over HTTP, each delivery."""
        delivery = self.mock.delivery
        return {
            "collected": {
                "wechatpay": len(self.mock.wechatpay.notifications),
                "alipay": len(self.mock.alipay.notifications),
            },
            "delivering": delivery is not None,
            "notify_url": None if delivery is None else delivery.notify_url,
            "pending": 0 if delivery is None else delivery.pending,
            "deliveries": [] if delivery is None else [r.as_json() for r in delivery.records()],
        }

    def state(self, *, ledger: bool = True) -> dict[str, Any]:
        centre = self.mock.centre
        dataset = centre.dataset
        people = []
        for number, person in dataset.people.items():
            people.append(
                {
                    "id": number.masked,
                    "name": person.name,
                    "psn_no": self.mock.psn_no(number),
                    "insurance": person.insurance.kind.value,
                    "status": person.insurance.status.value,
                    "region": person.insurance.region,
                    "balance": centre.ledger.balance(number).to_yuan()
                    if person.account is not None
                    else None,
                }
            )
        bindings = [
            {
                "owner": b.owner.masked,
                "beneficiary": b.beneficiary.masked,
                "relation": b.relation.value,
                "status": b.status.value,
                "priority": b.priority,
                "per_transaction_limit": None
                if b.per_transaction_limit is None
                else b.per_transaction_limit.to_yuan(),
            }
            for b in dataset.bindings
        ]
        return {
            "policy": dataset.policy.id,
            "people": people,
            "bindings": bindings,
            "ledger": [self._transaction(t) for t in centre.ledger.transactions] if ledger else [],
            "violations": self.mock.check(),
            "faults": self.mock.faults.describe(),
        }

    def _transaction(self, t: Transaction) -> dict[str, Any]:
        ledger = self.mock.centre.ledger
        return {
            "number": t.number,
            "kind": t.kind,
            "settlement_id": t.settlement_id,
            "total": t.total.to_yuan(),
            # A settlement a later transaction undid (the reversal is shown as its own row).
            "reversed": t.kind == "settle" and ledger.is_reversed(t.settlement_id),
            "postings": [
                {
                    "account": p.account.masked if isinstance(p.account, IdNumber) else p.account,
                    "amount": p.amount.to_yuan(),
                }
                for p in t.postings
            ],
        }


def _limit(request: httpx.Request) -> int:
    """``?limit=N``: how many of the newest rows (default 50, at most 1000)."""
    text = request.url.params.get("limit", str(DASHBOARD_ROWS))
    if not text.isdigit() or not 0 <= int(text) <= MAX_ROWS:
        raise InvalidInput(
            f"limit must be a whole number from 0 to {MAX_ROWS}, not {text[:20]!r}.",
            next_step="Fix ?limit= in the URL.",
        )
    return int(text)


def _pem(key: RsaPublicKey) -> str:
    """A public key as PEM (SubjectPublicKeyInfo), as the consoles hand them out."""
    from cryptography.hazmat.primitives import serialization

    return (
        key.cryptography_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
