"""Building the channel (settings, the mock, the plugin), its capabilities, and what it never shows."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import gongji_alipay.plugin
from gongji.errors import ConfigError, InvalidInput
from gongji.gateways import AdapterRegistry, Capability, CashOrder, PaymentState
from gongji.money import Fen
from gongji.plugins import make_plugin_manager
from gongji.signing.alipay import alipay_cert_sn, sign_response, verify_request
from gongji.signing.keys import RsaPrivateKey, load_certificate
from gongji_alipay import SETTINGS_KEYS, AlipayChannel
from gongji_mock import MockGateway
from tests.adapters.alipay.conftest import code, run

APP_ID = "2021000100000777"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_of(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem_of(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def one_line_base64(pem: bytes) -> str:
    """A key as the Alipay console prints it: the base64 of its DER on one line, no armour."""
    return "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))


def certificate(
    key: rsa.RSAPrivateKey, *, serial: int, issuer_key: rsa.RSAPrivateKey, cn: str
) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Financial"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Test Root CA"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def app_private() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def key_files(tmp_path: Path, app_private: rsa.RSAPrivateKey, mock: MockGateway) -> dict[str, Any]:
    """Public-key mode settings for a test app the mock trusts, keys in files."""
    (tmp_path / "app_private_key.pem").write_bytes(pem_of(app_private))
    (tmp_path / "alipay_public_key.pem").write_bytes(
        public_pem_of(mock.alipay.alipay_public_key.cryptography_key())
    )
    mock.alipay.register_app(APP_ID, RsaPrivateKey(app_private).public_key)
    return {
        "app_id": APP_ID,
        "app_private_key_path": str(tmp_path / "app_private_key.pem"),
        "alipay_public_key_path": str(tmp_path / "alipay_public_key.pem"),
    }


# ---------------------------------------------------------------- settings


def test_from_settings_with_key_files_charges_against_the_mock(
    key_files: dict[str, Any], mock: MockGateway, client: httpx.Client
) -> None:
    channel = AlipayChannel.from_settings(key_files)
    assert channel.app_id == APP_ID
    order = CashOrder(out_trade_no="POS02-S001", amount=Fen(990), auth_code=code("1"))
    assert run(channel.charge(order), client).state is PaymentState.PAID
    assert mock.alipay.collected() == Fen(990)


def test_from_settings_takes_keys_inline_as_the_console_prints_them(
    app_private: rsa.RSAPrivateKey, mock: MockGateway, client: httpx.Client
) -> None:
    mock.alipay.register_app(APP_ID, RsaPrivateKey(app_private).public_key)
    channel = AlipayChannel.from_settings(
        {
            "app_id": APP_ID,
            "app_private_key": one_line_base64(pem_of(app_private)),
            "alipay_public_key": one_line_base64(
                public_pem_of(mock.alipay.alipay_public_key.cryptography_key())
            ),
            "notify_url": "https://pos.example/alipay/notify",
        }
    )
    assert channel.notify_url == "https://pos.example/alipay/notify"
    assert run(channel.query("NEVER-SENT"), client).state is PaymentState.NOT_FOUND


def test_from_settings_in_certificate_mode_sends_both_sns_and_verifies_by_alipay_cert_sn(
    tmp_path: Path, app_private: rsa.RSAPrivateKey
) -> None:
    root, alipay_private = new_key(), new_key()
    app_cert = certificate(app_private, serial=1234567890123, issuer_key=root, cn="app")
    alipay_cert = certificate(alipay_private, serial=987654321, issuer_key=root, cn="alipay")
    root_cert = certificate(root, serial=1, issuer_key=root, cn="Test Root CA")
    for name, material in [
        ("app.pem", pem_of(app_private)),
        ("appCertPublicKey.crt", app_cert),
        ("alipayRootCert.crt", root_cert),
        ("alipayCertPublicKey_RSA2.crt", alipay_cert),
    ]:
        (tmp_path / name).write_bytes(material)
    channel = AlipayChannel.from_settings(
        {
            "app_id": APP_ID,
            "app_private_key_path": str(tmp_path / "app.pem"),
            "app_cert_path": str(tmp_path / "appCertPublicKey.crt"),
            "alipay_root_cert_path": str(tmp_path / "alipayRootCert.crt"),
            "alipay_cert_path": [str(tmp_path / "alipayCertPublicKey_RSA2.crt")],
        }
    )
    assert "certificate mode" in repr(channel)
    sn = alipay_cert_sn(load_certificate(alipay_cert))
    content = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "X1",
        "trade_status": "TRADE_SUCCESS",
    }
    router = respx.Router()
    route = router.post(url__startswith="https://openapi.alipay.com/gateway.do").respond(
        content=sign_response(
            RsaPrivateKey(alipay_private),
            "alipay.trade.query",
            json.dumps(content).encode(),
            cert_sn=sn,
        )
    )
    with httpx.Client(transport=httpx.MockTransport(router.handler)) as alipay:
        assert run(channel.query("X1"), alipay).state is PaymentState.PAID
    form = dict(parse_qsl(route.calls.last.request.content.decode()))
    assert form["app_cert_sn"] == alipay_cert_sn(load_certificate(app_cert))
    assert form["alipay_root_cert_sn"]
    assert form["biz_content"] == '{"out_trade_no":"X1"}'
    verify_request(form, RsaPrivateKey(app_private).public_key)


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("app_id", "app_id"),
        ("app_private_key_path", "app_private_key_path"),
        ("alipay_public_key_path", "alipay_public_key_path"),
    ],
)
def test_a_missing_setting_is_named(key_files: dict[str, Any], missing: str, named: str) -> None:
    settings = {k: v for k, v in key_files.items() if k != missing}
    with pytest.raises(ConfigError, match=named):
        AlipayChannel.from_settings(settings)


def test_an_unknown_setting_is_refused_rather_than_ignored(key_files: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="alipay_public_key_pth") as raised:
        AlipayChannel.from_settings({**key_files, "alipay_public_key_pth": "x"})
    assert all(key in str(raised.value) for key in SETTINGS_KEYS)


def test_half_a_certificate_mode_is_refused(key_files: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both app_cert_path and alipay_root_cert_path"):
        AlipayChannel.from_settings({**key_files, "app_cert_path": str(tmp_path / "a.crt")})


def test_a_key_given_twice_is_refused(key_files: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="app_private_key_path and app_private_key are both set"):
        AlipayChannel.from_settings({**key_files, "app_private_key": "MIIEvQIBADANBgkqhkiG9w0B"})


def test_setting_errors_never_repeat_key_material(
    key_files: dict[str, Any], tmp_path: Path
) -> None:
    secret = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secretmaterial"
    settings = {k: v for k, v in key_files.items() if k != "app_private_key_path"}
    with pytest.raises(ConfigError) as raised:
        AlipayChannel.from_settings({**settings, "app_private_key": secret})
    assert "secretmaterial" not in str(raised.value)
    assert "secretmaterial" not in repr(raised.value)
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(ConfigError, match=r"nowhere\.pem"):
        AlipayChannel.from_settings({**settings, "app_private_key_path": str(missing)})


def test_a_base_url_that_is_not_absolute_is_refused(key_files: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        AlipayChannel.from_settings({**key_files, "base_url": "/gateway.do"})


def test_a_custom_base_url_is_where_requests_go(
    key_files: dict[str, Any], mock: MockGateway, client: httpx.Client
) -> None:
    channel = AlipayChannel.from_settings(
        {**key_files, "base_url": "http://127.0.0.1:8765/gateway.do"}
    )
    request = next(channel.query("NEVER-SENT"))
    assert isinstance(request, httpx.Request)
    assert str(request.url) == "http://127.0.0.1:8765/gateway.do"
    # The mock answers /gateway.do on any host, so the rest of the flow still runs.
    assert run(channel.query("NEVER-SENT"), client).state is PaymentState.NOT_FOUND


# ---------------------------------------------------------------- plugin and capabilities


def test_the_plugin_registers_the_settings_factory_as_the_alipay_channel() -> None:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(gongji_alipay.plugin, name="alipay")
    registry = AdapterRegistry()
    pm.hook.gongji_register_adapters(register=registry.register)
    found = registry.get("alipay", "channel")
    assert found.factory == AlipayChannel.from_settings
    assert found.capabilities == {
        Capability.CODE_PAYMENT,
        Capability.QUERY,
        Capability.REVERSE,
        Capability.REFUND,
        Capability.NOTIFY,
    }


def test_the_plugin_is_published_under_the_gongji_entry_point_group() -> None:
    [entry] = [e for e in importlib.metadata.entry_points(group="gongji") if e.name == "alipay"]
    assert entry.value == "gongji_alipay.plugin"


@pytest.mark.parametrize(
    ("capability", "call"),
    [
        (Capability.CODE_PAYMENT, lambda c: c.charge(CashOrder("T1", Fen(100), code("1")))),
        (Capability.QUERY, lambda c: c.query("T1")),
        (Capability.REVERSE, lambda c: c.reverse("T1")),
        (Capability.REFUND, lambda c: c.refund("T1", "R1", Fen(100), Fen(100))),
        (Capability.NOTIFY, lambda c: c.notification({}, b"")),
    ],
)
def test_an_operation_not_declared_is_refused_before_anything_is_sent(
    channel: AlipayChannel, capability: Capability, call: Any
) -> None:
    channel.capabilities = channel.capabilities - {capability}
    with pytest.raises(ConfigError, match="nothing was sent"):
        call(channel)


def test_a_refund_status_operation_is_not_offered() -> None:
    # The mock does not serve alipay.trade.fastpay.refund.query; see the adapter's reference.
    assert not hasattr(AlipayChannel, "refund_status")


@pytest.mark.parametrize(
    ("order", "says"),
    [
        (CashOrder("T1", Fen(100), ""), "payment code is empty"),
        (CashOrder("", Fen(100), code("1")), "out_trade_no"),
        (CashOrder("T" * 65, Fen(100), code("1")), "out_trade_no"),
        (CashOrder("T1", Fen(0), code("1")), "between 0.01"),
        (CashOrder("T1", Fen(100_000_000_01), code("1")), "between 0.01"),
        (CashOrder("T1", 12.5, code("1")), "integer fen"),  # type: ignore[arg-type]
    ],
    ids=["empty-code", "empty-number", "long-number", "zero", "too-much", "float"],
)
def test_an_order_that_cannot_be_right_is_refused_before_anything_is_sent(
    channel: AlipayChannel, order: CashOrder, says: str
) -> None:
    with pytest.raises(InvalidInput, match=says) as raised:
        channel.charge(order)
    assert code("1") not in str(raised.value)


# ---------------------------------------------------------------- nothing secret shows


def test_reprs_show_no_key_and_no_payment_code(
    key_files: dict[str, Any], app_private: rsa.RSAPrivateKey
) -> None:
    channel = AlipayChannel.from_settings(key_files)
    shown = repr(channel) + repr(CashOrder("T1", Fen(100), code("1")))
    assert APP_ID in shown
    assert "PRIVATE" not in shown
    assert one_line_base64(pem_of(app_private))[:40] not in shown
    assert code("1") not in shown
