"""Every decoder that takes outside bytes, as a function of those bytes.

Each target runs the real code from the point the bytes arrive: a gateway's operation
(a flow, driven by hand) answered with the bytes, a verifier handed them, a file loader
reading them. Layers behind a signature are reached two ways: the verifier on garbage
(it must refuse), and the decoder behind it with the signature layer passed through
(``_auth = None``), as a real answer that verified would reach it.

``TARGETS`` names them; ``corpus/<name>/`` holds the crafted cases of each.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import tempfile
import urllib.parse
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import httpx

from gongji.gateways import (
    CashOrder,
    CentreSettlement,
    Clearing,
    Holder,
    SettlementRequest,
    StatementLine,
)
from gongji.gateways.exchange import Pause
from gongji.identity import Credential
from gongji.model import Insurance, LineItem, Person
from gongji.money import Fen
from gongji.signing.tif import TifAuth, TifSigner
from gongji_cityins.gateway import CITIES, CityInsuranceGateway, Institution
from gongji_cityins.statement import StatementFormat, differences_from
from gongji_mock import MockGateway

PATIENT = "210202195809120046"
SEEDS = Path(__file__).parent / "corpus" / "seeds"
Decode = Callable[[bytes], object]
TARGETS: dict[str, Decode] = {}


def target(name: str) -> Callable[[Decode], Decode]:
    def register(decode: Decode) -> Decode:
        TARGETS[name] = decode
        return decode

    return register


def drive(flow: Generator[Any, Any, Any], answer: Callable[[httpx.Request], httpx.Response]) -> Any:
    """Run a flow to its end, answering every request with ``answer``; at most 8 steps
    (a flow that kept asking would be a hang)."""
    step = next(flow)
    for _ in range(8):
        reply = None if isinstance(step, Pause) else answer(step)
        try:
            step = flow.send(reply)
        except StopIteration as done:
            return done.value
    raise AssertionError("the flow was still asking after 8 answers")


def answering(
    data: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=data, headers=headers or {}, request=request)

    return answer


# ------------------------------------------------------------------ the insurance centre


@functools.cache
def _mock() -> MockGateway:
    return MockGateway.demo()


def _city() -> CityInsuranceGateway:
    gateway = CityInsuranceGateway(
        profile=CITIES["dalian"],
        institution=Institution(code="H21020200001", name="测试药房"),
        auth=TifAuth(TifSigner("gongji-mock", "gongji-mock-tif-secret")),
        clock=lambda: datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC),
    )
    # The day's sign-in done (the clock's Beijing day): 9001 is a target of its own.
    gateway._sign_no, gateway._signed_on = "SIGNED-IN", datetime.date(2026, 11, 23)
    return gateway


def _request() -> SettlementRequest:
    patient = Person(PATIENT, "测试", Insurance("resident", "active", "210202"), None)
    item = LineItem(code="D01", name="药品", unit_price=Fen(50_000), quantity=1)
    return SettlementRequest(
        psn_no="P1", patient=patient, credential=Credential.id_card(PATIENT), items=(item,)
    )


def _settled() -> CentreSettlement:
    return CentreSettlement(
        setl_id="SETL1",
        mdtrt_id="MDT1",
        msgid="M1",
        total=Fen(50_000),
        fund=Fen(0),
        own_account=Fen(0),
        mutual_aid=(),
        cash=Fen(50_000),
    )


_CLEARING = Clearing(insutype="390", clr_type="41", setl_optins="210200")


def _line() -> StatementLine:
    return StatementLine(
        setl_id="SETL1",
        mdtrt_id="MDT1",
        psn_no="P1",
        total=Fen(50_000),
        fund=Fen(0),
        own_account=Fen(0),
        mutual_aid=Fen(0),
        cash=Fen(50_000),
        clearing=_CLEARING,
    )


def _holder() -> Holder:
    return Holder(psn_no="P1", person=_request().patient)


_CITY_OPERATIONS: dict[str, Callable[[CityInsuranceGateway], Generator[Any, Any, Any]]] = {
    "9001": lambda g: g.sign_in(),
    "1101": lambda g: g.person(Credential.id_card(PATIENT)),
    "X101": lambda g: g.bindings(_holder()),
    "2101": lambda g: g.pre_settle(_request()),
    "2102": lambda g: g.settle(_request(), "H210202000012026112310000000001"),
    "2103": lambda g: g.cancel(_settled(), "P1", "H210202000012026112310000000002"),
    "2601": lambda g: g.reverse(
        "H210202000012026112310000000001", "P1", "H21020200001202611231000000003"
    ),
    "3201": lambda g: g.day_totals(datetime.date(2026, 11, 23), _CLEARING, (_line(),)),
    "3202": lambda g: g.day_details(datetime.date(2026, 11, 23), "210200", (_line(),)),
}


def _city_target(infno: str) -> Decode:
    def decode(data: bytes) -> object:
        return drive(_CITY_OPERATIONS[infno](_city()), answering(data))

    return decode


CITY_INFNOS = sorted(_CITY_OPERATIONS)
for _infno in _CITY_OPERATIONS:
    TARGETS[f"cityins-{_infno}"] = _city_target(_infno)


@target("cityins-statement-result")
def _statement_result(data: bytes) -> object:
    """The centre's 3202 result file as 9102 hands it back: a file, not an envelope."""
    return differences_from(data, StatementFormat())


# ------------------------------------------------------------------ WeChat Pay

# A signed answer reaches the decoders only once WechatPayAuth has verified it; with the
# signature layer passed through (``_PassedThrough``), fuzzed bodies reach them as a
# verified answer would. The signature layer gets garbage of its own (``*-verify``).
WECHAT_STATUSES = (200, 200, 200, 202, 400, 403, 404, 429, 500)
SIGNED = {"Wechatpay-Signature": "verified", "Request-ID": "REQ-1"}


class _PassedThrough:
    """The signature layer of a channel, passed through (see above)."""

    def sign(self, request: httpx.Request) -> None:
        """Nothing is signed: the answers are fuzzed, not computed from the request."""

    def verify(self, response: httpx.Response) -> None:
        """Every answer counts as verified."""


@functools.cache
def _wechat() -> Any:
    from gongji_wechatpay.gateway import WechatPayChannel

    channel = WechatPayChannel.for_mock(_mock(), clock=lambda: 1_795_000_000)
    channel._auth = _PassedThrough()  # type: ignore[assignment]  # verified: see above
    return channel


def _wechat_operations() -> dict[str, Callable[[Any], Generator[Any, Any, Any]]]:
    order = CashOrder(out_trade_no="SEED-1-1", amount=Fen(7_000), auth_code="134567890123456781")
    return {
        "charge": lambda c: c.charge(order),
        "query": lambda c: c.query("SEED-1-1"),
        "reverse": lambda c: c.reverse("SEED-1-1"),
        "refund": lambda c: c.refund("SEED-1-1", "SEED-1-R1", Fen(7_000), Fen(7_000)),
        "refund_status": lambda c: c.refund_status("SEED-1-R1"),
        "med_ins_query": lambda c: c.med_ins_query("MEDINS-1"),
        "med_ins_order": lambda c: c._med_ins(c._get("/v3/med-ins/orders"), "MEDINS-1", write=True),
    }


WECHAT_OPERATIONS = sorted(_wechat_operations())


def _wechat_target(operation: str) -> Decode:
    """The first byte of the input picks the HTTP status; the rest is the body."""

    def decode(data: bytes) -> object:
        status = WECHAT_STATUSES[data[0] % len(WECHAT_STATUSES)] if data else 200
        flow = _wechat_operations()[operation](_wechat())
        return drive(flow, answering(data[1:], status, SIGNED))

    return decode


for _operation in WECHAT_OPERATIONS:
    TARGETS[f"wechatpay-{_operation}"] = _wechat_target(_operation)


@target("wechatpay-callback-plaintext")
def _wechat_callback_plaintext(data: bytes) -> object:
    """A callback's decrypted resource, as each event type decodes it. The first byte
    picks the event type."""
    from gongji_wechatpay import gateway as wechat

    kinds = (
        (wechat.wire.Transaction, wechat.transform.transaction_notification),
        (wechat.wire.RefundNotice, wechat.transform.refund_notification),
        (wechat.wire.MedInsOrderEntity, wechat.transform.med_ins_notification),
    )
    kind, read = kinds[data[0] % 3] if data else kinds[0]
    return read(wechat._decode_bytes(data[1:], kind, "The callback"), "EV-1")  # type: ignore[operator]


#: The key the envelope seed was sealed with (``record_seeds``): a fixed test value, so
#: that the seed decrypts in every run.
FUZZ_APIV3_KEY = "fuzz0000fuzz0000fuzz0000fuzz0000"


@functools.cache
def _verified_notifications() -> Any:
    from gongji.signing.wechatpay import WechatPayNotifications

    class Verified(WechatPayNotifications):
        def verify(self, headers: Any, body: bytes) -> str:
            return "SERIAL"  # the signature layer passed: see above

    return Verified(_mock().wechatpay.platform_keys(), FUZZ_APIV3_KEY, clock=lambda: 1_795_000_000)


@target("wechatpay-callback-envelope")
def _wechat_callback_envelope(data: bytes) -> object:
    """A callback whose signature verified: the envelope, then the AES-GCM resource. The
    envelope holds a real ciphertext of a real resource, so that a mutation of its
    fields (nonce, associated data, algorithm) is checked by the decryption itself."""
    return _verified_notifications().open({}, data)


@target("wechatpay-callback-verify")
def _wechat_callback_verify(data: bytes) -> object:
    """The whole callback path, signature first, on a body that carries no valid signature:
    headers from the input's first line (name: value; ...), the rest the body."""
    head, _, body = data.partition(b"\n")
    headers = {}
    for part in head.decode("utf-8", "replace").split(";"):
        name, _, value = part.partition(":")
        headers[name.strip()] = value.strip()
    return _wechat().notification(headers, body)


# ------------------------------------------------------------------ Alipay

ALIPAY_NOW = 1_795_000_000  # the clock of the fuzzed Alipay channel (2026-11-18, UTC)


@functools.cache
def _alipay(verified: bool) -> Any:
    """The channel over the mock's test app; ``verified``: its signature layer passed
    through (a verifier that accepts any ``sign``), as a genuine answer or notification
    would pass it."""
    from gongji.signing.alipay import AlipayVerifier, response_content
    from gongji_alipay.gateway import AlipayChannel

    channel = AlipayChannel.for_mock(_mock().alipay, clock=lambda: ALIPAY_NOW)
    if verified:

        class Verified(AlipayVerifier):
            def verify_response(self, raw: bytes, method: str) -> bytes:
                return response_content(raw, method)[0]  # located, as a genuine sign would be

            def verify_notification(self, params: Any) -> dict[str, str]:
                return dict(params)

        channel._verifier = Verified(channel._verifier.keys, clock=lambda: ALIPAY_NOW)
    return channel


def _alipay_operations() -> dict[str, Callable[[Any], Generator[Any, Any, Any]]]:
    order = CashOrder(out_trade_no="SEED-4-1", amount=Fen(89_381_000), auth_code="2887654321012341")
    return {
        "pay": lambda c: c.charge(order),
        "query": lambda c: c.query("SEED-4-1"),
        "cancel": lambda c: c.reverse("SEED-4-1"),
        "refund": lambda c: c.refund("SEED-4-1", "SEED-4-R1", Fen(89_381_000), Fen(89_381_000)),
    }


ALIPAY_OPERATIONS = sorted(_alipay_operations())
ALIPAY_STATUSES = (200, 200, 200, 400, 404, 500)


def _alipay_target(operation: str) -> Decode:
    def decode(data: bytes) -> object:
        status = ALIPAY_STATUSES[data[0] % len(ALIPAY_STATUSES)] if data else 200
        flow = _alipay_operations()[operation](_alipay(verified=True))
        return drive(flow, answering(data[1:], status))

    return decode


for _operation in ALIPAY_OPERATIONS:
    TARGETS[f"alipay-{_operation}"] = _alipay_target(_operation)


@target("alipay-verify-response")
def _alipay_verify_response(data: bytes) -> object:
    """Any answer to any method, through the real signature check (nothing fuzzed verifies)."""
    method = (
        "alipay.trade.pay",
        "alipay.trade.query",
        "alipay.trade.cancel",
        "alipay.trade.refund",
    )
    return _alipay(verified=False)._verifier.verify_response(
        data[1:], method[data[0] % 4] if data else method[0]
    )


@target("alipay-notification")
def _alipay_notification(data: bytes) -> object:
    """A notification's form after its sign verified; the first byte picks the content type."""
    types = (
        "application/x-www-form-urlencoded; charset=utf-8",
        "",
        "application/json",
        "text/plain",
    )
    headers = {"Content-Type": types[data[0] % 4]} if data else {}
    return _alipay(verified=True).notification(headers, data[1:])


@target("alipay-notification-verify")
def _alipay_notification_verify(data: bytes) -> object:
    """The whole notification path, sign first, on forms that carry no valid sign."""
    return _alipay(verified=False).notification(
        {"Content-Type": "application/x-www-form-urlencoded"}, data
    )


# ------------------------------------------------------------------ files: dataset, policy, config, journal

_FILES = tempfile.TemporaryDirectory(prefix="gongji-fuzz-")


def _file(name: str, data: bytes) -> Path:
    """The bytes as a real file (read as the loaders read: ``Path.read_text``)."""
    path = Path(_FILES.name) / name
    path.write_bytes(data)
    return path


@target("dataset")
def _dataset(data: bytes) -> object:
    from gongji_mock import load_dataset

    return load_dataset(_file("dataset.toml", data))


@functools.cache
def _builtin_tables() -> dict[str, Any]:
    from gongji.policy.builtin import gongji_register_policies
    from gongji.policy.registry import PolicyRegistry

    registry = PolicyRegistry()
    gongji_register_policies(registry.register)
    return dict(registry._tables)


@target("policy")
def _policy(data: bytes) -> object:
    """A pack file registered beside the built-in packs (its ``extends`` may name them),
    then built by its id, as a plugin's pack is."""
    from gongji.policy.registry import PolicyRegistry

    registry = PolicyRegistry()
    registry._tables.update(_builtin_tables())
    path = _file("pack.toml", data)
    registry.register(path)
    pack_id = next(i for i in registry.ids() if i not in _builtin_tables())
    return registry.get(pack_id), registry.load_file(path)


@target("config")
def _config(data: bytes) -> object:
    """A ``gongji.toml``, each of its profiles; the journal is left out (it opens a database)."""
    import tomllib

    from gongji.config import client_arguments_from_file

    path = _file("gongji.toml", data)
    _file("fuzz-secret.txt", b"fuzz-secret")  # the seeds' secret_file, beside the config
    try:
        profiles = tomllib.loads(data.decode("utf-8")).get("profiles")
    except (ValueError, RecursionError):  # the loader says what is wrong with the file itself
        profiles = None
    names = list(profiles) if isinstance(profiles, dict) and profiles else ["dalian"]
    return [client_arguments_from_file(path, str(name), journal=False) for name in names[:3]]


@target("purchase-toml")
def _purchase_toml(data: bytes) -> object:
    """A purchase file for ``gongji preview`` / ``gongji settle --purchase``, in TOML."""
    from gongji.cli.purchase import read_purchase

    return read_purchase(_file("purchase.toml", data))


@target("purchase-json")
def _purchase_json(data: bytes) -> object:
    """The same, in JSON."""
    from gongji.cli.purchase import read_purchase

    return read_purchase(_file("purchase.json", data))


JOURNAL_KEY_BYTES = b"fuzz-journal-key-32-bytes-long!!"


@target("journal")
def _journal(data: bytes) -> object:
    """A stored journal document read back, as the SQLite and PostgreSQL journals read it."""
    from gongji.journal import codec
    from gongji.journal.sealing import JournalKey

    return codec.entry_of(
        codec.decode_row(data, "the fuzzed journal"), JournalKey(JOURNAL_KEY_BYTES)
    )


# ------------------------------------------------------------------ the mock's own decoders

# A served mock takes outside bytes too. Each endpoint gets the bytes past its
# authentication (TIF headers do not cover the body; the channels' signatures are
# skipped by answering ``_authenticate`` with the test merchant or app), and must answer:
# only a GongjiError may escape (none should: each endpoint turns refusals into answers).


@functools.cache
def _served() -> MockGateway:
    # With gongji's extensions read: the recorded seeds speak them, and the extension
    # fields' decoders take outside bytes too.
    mock = MockGateway.demo(extensions=True)
    sign_in = (SEEDS / "national-9001.request").read_bytes()
    answer = mock.national._message(sign_in)
    mock.fuzz_sign_no = answer.json()["output"]["signinoutb"]["sign_no"]  # type: ignore[attr-defined]
    mock.wechatpay._authenticate = lambda request: mock.wechatpay.merchant.mchid  # type: ignore[method-assign]
    mock.alipay._authenticate = lambda params: mock.alipay.app_id  # type: ignore[method-assign]
    return mock


RECORDED_SIGN_NO = b"20261123141416929AD00C87B7F498"
_MESSAGES = iter(range(10**9))


@target("mock-national")
def _mock_national(data: bytes) -> object:
    """A message to the national endpoint: the recorded sign_no becomes the live one and
    the recorded msgid a fresh one, so that a message gets past both checks to its infno."""
    mock = _served()
    fresh = f"H21020200001FUZZ{next(_MESSAGES):014d}".encode()
    body = data.replace(RECORDED_SIGN_NO, mock.fuzz_sign_no.encode())  # type: ignore[attr-defined]
    body = re.sub(rb'"msgid": ?"H2102020000120261123[0-9]+"', b'"msgid":"' + fresh + b'"', body)
    return _answered(mock.national._message(body))


WECHAT_MOCK_ROUTES = (
    ("POST", "/v3/pay/transactions/codepay"),
    ("POST", "/v3/refund/domestic/refunds"),
    ("POST", "/v3/pay/transactions/out-trade-no/SEED-1-1/reverse"),
    ("POST", "/v3/med-ins/orders"),
    ("GET", "/v3/pay/transactions/out-trade-no/SEED-1-1"),
)


@target("mock-wechatpay")
def _mock_wechatpay(data: bytes) -> object:
    """The first byte picks the route, the rest is the body."""
    method, path = (
        WECHAT_MOCK_ROUTES[data[0] % len(WECHAT_MOCK_ROUTES)] if data else WECHAT_MOCK_ROUTES[0]
    )
    request = httpx.Request(method, "https://api.mch.weixin.qq.com" + path, content=data[1:])
    return _answered(_served().wechatpay.handle(request))


ALIPAY_MOCK_METHODS = (
    "alipay.trade.pay",
    "alipay.trade.query",
    "alipay.trade.cancel",
    "alipay.trade.refund",
    "alipay.trade.close",
)


@target("mock-alipay")
def _mock_alipay(data: bytes) -> object:
    """The first byte picks the method; the rest is the ``biz_content`` JSON."""
    method = (
        ALIPAY_MOCK_METHODS[data[0] % len(ALIPAY_MOCK_METHODS)] if data else ALIPAY_MOCK_METHODS[0]
    )
    mock = _served()
    body = b"biz_content=" + urllib.parse.quote_from_bytes(data[1:]).encode()
    params = {
        "method": method,
        "app_id": mock.alipay.app_id,
        "sign_type": "RSA2",
        "charset": "utf-8",
    }
    request = httpx.Request(
        "POST", "https://openapi.alipay.com/gateway.do", params=params, content=body
    )
    return _answered(mock.alipay.handle(request))


ADMIN_ROUTES = (("POST", "e-voucher"), ("POST", "faults"), ("GET", "state"), ("GET", "check"))


@target("mock-admin")
def _mock_admin(data: bytes) -> object:
    """The first byte picks the resource; the rest is the body. Fault rules accepted here are
    cleared again: they would change the next example's answers."""
    from gongji_mock.server.admin import PREFIX, AdminEndpoint

    method, what = ADMIN_ROUTES[data[0] % len(ADMIN_ROUTES)] if data else ADMIN_ROUTES[0]
    mock = _served()
    request = httpx.Request(method, f"http://127.0.0.1:8930{PREFIX}{what}", content=data[1:])
    try:
        return _answered(AdminEndpoint(mock)(request))
    finally:
        mock.faults.clear()


def _answered(response: httpx.Response) -> httpx.Response:
    """An endpoint's answer: read to the end, and not a crash page."""
    response.read()
    assert response.status_code < 500 or response.status_code == 503, response.status_code
    return response


# ------------------------------------------------------------------ the gateway signatures (TIF, CSB)

SIGNING_NOW = 1_795_000_000
TIF_SECRETS = {"gongji-mock": "gongji-mock-tif-secret"}
CSB_SECRETS = {"AK-FUZZ": "csb-fuzz-secret"}


def signing_seeds() -> list[bytes]:
    """Headers that verify (at ``SIGNING_NOW``), as JSON objects: what the fuzzer breaks."""
    from gongji.signing.csb import CsbSigner

    tif = TifSigner("gongji-mock", TIF_SECRETS["gongji-mock"]).headers(
        timestamp=SIGNING_NOW, nonce="n0nce"
    )
    csb = CsbSigner(access_key="AK-FUZZ", secret=CSB_SECRETS["AK-FUZZ"], api_name="callService")
    return [
        json.dumps({"scheme": "tif", **tif}).encode(),
        json.dumps({"scheme": "csb", **csb.headers(timestamp_ms=SIGNING_NOW * 1000)}).encode(),
    ]


@target("signing-tif-csb")
def _signing(data: bytes) -> object:
    """The gateway's side of TIF and CSB (the served mock's) on headers from outside: a JSON
    object of header names to values (values taken as text, as HTTP delivers them)."""
    from gongji.signing.csb import verify_csb_request
    from gongji.signing.tif import verify_tif_headers

    try:
        found = json.loads(data)
    except (ValueError, RecursionError):
        found = {"x": data.decode("latin-1")}
    if not isinstance(found, dict):
        found = {"x": str(found)}
    headers = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in found.items()}
    if headers.pop("scheme", "") == "csb":
        return verify_csb_request(headers, [], secrets_by_access_key=CSB_SECRETS, now=SIGNING_NOW)
    return verify_tif_headers(headers, secrets_by_paasid=TIF_SECRETS, now=SIGNING_NOW)


# ------------------------------------------------------------------ the mobile-payment channel (SM2/SM4)

MOBILEPAY_APP_ID = "43AF047BBA47FC8A1AE8EFB2AB12CD34"  # the published example's test values
MOBILEPAY_APP_SECRET = "NMVFVILMKT13GEMD3BKPKCTBOQBPZR2P"
MOBILEPAY_KEY = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"


@functools.cache
def _mobilepay() -> Any:
    from gongji.signing.mobilepay import MobilePayChannel
    from gongji.signing.sm import Sm2PrivateKey

    key = Sm2PrivateKey.load(bytes.fromhex(MOBILEPAY_KEY))
    return MobilePayChannel(
        app_id=MOBILEPAY_APP_ID,
        app_secret=MOBILEPAY_APP_SECRET,
        private_key=key,
        platform_public_key=key.public_key,
    )


@target("mobilepay")
def _mobilepay_open(data: bytes) -> object:
    """A mobile-payment response: envelope, SM4 ``encData``, SM2 ``signData``."""
    return _mobilepay().open(data)


@target("wechatpay-verify-response")
def _wechat_verify_response(data: bytes) -> object:
    """WechatPayAuth's check of an answer, on headers and a body that carry no valid
    signature (the first line holds the headers, as for ``wechatpay-callback-verify``);
    the first byte picks the status (a 2xx must be signed; any signed answer is checked)."""
    from gongji.signing.wechatpay import WechatPayAuth

    head, _, body = data.partition(b"\n")
    headers = {}
    for part in head.decode("utf-8", "replace").split(";"):
        name, _, value = part.partition(":")
        headers[name.strip()] = value.strip()
    status = WECHAT_STATUSES[len(head) % len(WECHAT_STATUSES)]
    endpoint = _mock().wechatpay
    auth = WechatPayAuth(endpoint.merchant, endpoint.platform_keys(), clock=lambda: 1_795_000_000)
    wire_headers = [(k.encode(), v.encode()) for k, v in headers.items()]  # bytes, as they arrive
    auth.verify(httpx.Response(status, headers=wire_headers, content=body))
    return status
