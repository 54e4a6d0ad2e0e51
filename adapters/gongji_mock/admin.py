"""The mock's admin endpoint (``/gongji-admin/``): its state, the invariant check, the
faults in force, and the test keys a POS needs, over HTTP, for integrators driving a
served mock and for the dashboard.

A mock-only endpoint: it moves no money, has no authentication, and the mock listens
on 127.0.0.1 by default: it is for rehearsal on one machine. ID numbers are shown
masked here as everywhere. ``GET /gongji-admin/keys`` is the one deliberate exception
to "no secret in an answer": it hands out the mock's own test credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import msgspec
from cryptography.hazmat.primitives import serialization

from gongji import jsonwire
from gongji.errors import GongjiError
from gongji.identity import IdNumber
from gongji.signing.keys import RsaPublicKey, load_private_key

if TYPE_CHECKING:
    from gongji_mock.gateway import MockGateway

PREFIX = "/gongji-admin/"


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


class AdminEndpoint:
    def __init__(self, mock: MockGateway) -> None:
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
            if what == "callbacks/flush" and request.method == "POST":
                if self.mock.delivery is not None:
                    self.mock.delivery.flush()
                return httpx.Response(200, json=self.callbacks())
            if what == "e-voucher" and request.method == "POST":
                body = jsonwire.decode(request.content, type=_VoucherRequest)
                return httpx.Response(
                    200, json={"token": self.mock.issue_e_voucher(body.id_number)}
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
        elif request.method == "DELETE":
            faults.clear()
        elif request.method != "GET":
            return httpx.Response(405, json={"error": "method_not_allowed"})
        return httpx.Response(
            200, json={"faults": faults.describe(), "injected": dict(faults.injected)}
        )

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

    def state(self) -> dict[str, Any]:
        centre = self.mock.centre
        dataset = centre.dataset
        people = []
        for number, person in dataset.people.items():
            people.append(
                {
                    "id": number.masked,
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
        transactions = [
            {
                "number": t.number,
                "kind": t.kind,
                "settlement_id": t.settlement_id,
                "total": t.total.to_yuan(),
                "postings": [
                    {
                        "account": p.account.masked
                        if isinstance(p.account, IdNumber)
                        else p.account,
                        "amount": p.amount.to_yuan(),
                    }
                    for p in t.postings
                ],
            }
            for t in centre.ledger.transactions
        ]
        return {
            "policy": dataset.policy.id,
            "people": people,
            "bindings": bindings,
            "ledger": transactions,
            "violations": self.mock.check(),
            "faults": self.mock.faults.describe(),
        }


def _pem(key: RsaPublicKey) -> str:
    """A public key as PEM (SubjectPublicKeyInfo), as the consoles hand them out."""
    return (
        key.cryptography_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
