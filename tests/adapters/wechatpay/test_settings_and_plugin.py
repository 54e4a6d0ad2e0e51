"""Building the channel: from a configuration profile (keys by file path, secrets from files or
the environment, never inline, never shown), for the mock, and through the plugin hook."""

from __future__ import annotations

import datetime
import importlib.metadata
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gongji.errors import ConfigError
from gongji.gateways import CashOrder, PaymentChannel, PaymentState
from gongji.money import Fen
from gongji.plugins import adapter_registry, make_plugin_manager
from gongji.signing.keys import RsaPrivateKey
from gongji_mock import MockGateway
from gongji_mock.wechatpay.endpoint import DEFAULT_APPID, DEFAULT_MCHID
from gongji_wechatpay import WechatPayChannel, plugin
from gongji_wechatpay.settings import KEYS
from gongji_wechatpay.transform import TRADE_STATES
from tests.adapters.wechatpay.conftest import code, run_flow

SERIAL = "3775B6A45ACD588826D15E583A95F5DD1E3A6C21"


@pytest.fixture(scope="module")
def merchant_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture
def profile(tmp_path: Path, mock: MockGateway, merchant_pem: bytes) -> dict[str, Any]:
    """A profile whose files hold our own merchant key and the mock's platform key."""
    wx = mock.wechatpay
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "apiclient_key.pem").write_bytes(merchant_pem)
    (keys / "wxp_pub.pem").write_bytes(
        wx.platform_public_key.cryptography_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (keys / "apiv3.key").write_text(wx.apiv3_key + "\n")
    merchant = RsaPrivateKey(
        serialization.load_pem_private_key(merchant_pem, password=None)  # type: ignore[arg-type]
    )
    wx.register_merchant(DEFAULT_MCHID, SERIAL, merchant.public_key)
    return {
        "adapter": "wechatpay",
        "mchid": DEFAULT_MCHID,
        "appid": DEFAULT_APPID,
        "merchant_serial_no": SERIAL,
        "merchant_private_key_path": "keys/apiclient_key.pem",
        "platform_public_key_id": wx.platform_key_id,
        "platform_public_key_path": "keys/wxp_pub.pem",
        "apiv3_key_path": "keys/apiv3.key",
        "store_id": "POS01",
    }


def test_a_channel_from_settings_charges_against_the_mock(
    profile: dict[str, Any], tmp_path: Path, mock: MockGateway, client: httpx.Client
) -> None:
    channel = WechatPayChannel.from_settings(profile, config_dir=tmp_path)
    assert isinstance(channel, PaymentChannel)
    order = CashOrder(out_trade_no="CFG-0001", amount=Fen(990), auth_code=code("1"))
    assert run_flow(channel.charge(order), client).state is PaymentState.PAID
    assert mock.wechatpay.collected() == Fen(990)


def test_a_channel_from_settings_in_certificate_mode_downloads_and_charges(
    profile: dict[str, Any], tmp_path: Path, mock: MockGateway, client: httpx.Client
) -> None:
    del profile["platform_public_key_id"], profile["platform_public_key_path"]
    profile["download_platform_certificates"] = True
    channel = WechatPayChannel.from_settings(profile, config_dir=tmp_path)
    order = CashOrder(out_trade_no="CFG-0002", amount=Fen(990), auth_code=code("1"))
    assert run_flow(channel.charge(order), client).state is PaymentState.PAID
    assert [c.serial_hex for c in channel.platform.certificates] == [
        mock.wechatpay.certificates.current.serial
    ]


@pytest.mark.parametrize("value", [True, "yes"])
def test_downloading_certificates_is_true_or_false_and_not_with_a_public_key(
    profile: dict[str, Any], tmp_path: Path, value: object
) -> None:
    profile["download_platform_certificates"] = value
    with pytest.raises(ConfigError, match="download_platform_certificates"):
        WechatPayChannel.from_settings(profile, config_dir=tmp_path)


def test_the_apiv3_key_can_come_from_an_environment_variable(
    profile: dict[str, Any], tmp_path: Path, mock: MockGateway
) -> None:
    del profile["apiv3_key_path"]
    profile["apiv3_key_env"] = "POS_WECHATPAY_APIV3_KEY"
    channel = WechatPayChannel.from_settings(
        profile,
        config_dir=tmp_path,
        environ={"POS_WECHATPAY_APIV3_KEY": mock.wechatpay.apiv3_key},
    )
    assert mock.wechatpay.apiv3_key not in repr(channel)


def test_platform_certificates_can_be_configured_instead_of_the_public_key(
    profile: dict[str, Any], tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "platform")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x4B1E)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    del profile["platform_public_key_id"], profile["platform_public_key_path"]
    profile["platform_certificate_paths"] = ["cert.pem"]
    channel = WechatPayChannel.from_settings(profile, config_dir=tmp_path)
    assert channel.platform.serials == ["4B1E"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mchid": None}, "no 'mchid'"),
        ({"merchant_serial_no": ""}, "no 'merchant_serial_no'"),
        ({"appid": None}, "no 'appid'"),
        ({"apiv3_key_path": None}, "exactly one of 'apiv3_key_path' and 'apiv3_key_env'"),
        ({"apiv3_key_env": "SOME_VAR"}, "exactly one"),
        ({"platform_public_key_path": None}, "needs both"),
        ({"platform_public_key_id": None, "platform_public_key_path": None}, "no platform key"),
        ({"merchant_private_key_path": "keys/missing.pem"}, "missing.pem"),
        ({"apiv3_key_path": "keys/none.key"}, "none.key"),
        ({"mchid": 1900000001}, "must be a string"),
        ({"callback_tolerance_seconds": 30.5}, "whole number"),
        ({"merchant_key_path": "x"}, "unknown keys: merchant_key_path"),
    ],
)
def test_bad_settings_are_config_errors_that_name_the_key(
    profile: dict[str, Any], tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    for key, value in change.items():
        if value is None:
            profile.pop(key, None)
        else:
            profile[key] = value
    with pytest.raises(ConfigError, match=message):
        WechatPayChannel.from_settings(profile, config_dir=tmp_path, environ={})


def test_an_unset_environment_variable_is_named(profile: dict[str, Any], tmp_path: Path) -> None:
    del profile["apiv3_key_path"]
    profile["apiv3_key_env"] = "POS_WECHATPAY_APIV3_KEY"
    with pytest.raises(ConfigError, match="POS_WECHATPAY_APIV3_KEY"):
        WechatPayChannel.from_settings(profile, config_dir=tmp_path, environ={})


def test_a_secret_written_inline_is_refused_and_not_echoed(
    profile: dict[str, Any], tmp_path: Path
) -> None:
    profile["apiv3_key"] = "ThisIsAnInlineApiV3KeyOf32Chars!"
    with pytest.raises(ConfigError) as caught:
        WechatPayChannel.from_settings(profile, config_dir=tmp_path)
    assert "inline" in str(caught.value)
    assert "ThisIsAnInlineApiV3KeyOf32Chars!" not in str(caught.value)
    assert "ThisIsAnInlineApiV3KeyOf32Chars!" not in repr(caught.value)


def test_an_apiv3_key_of_the_wrong_length_is_refused_without_showing_it(
    profile: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "keys" / "apiv3.key").write_text("short-v2-api-key")
    with pytest.raises(ConfigError, match="32 bytes") as caught:
        WechatPayChannel.from_settings(profile, config_dir=tmp_path)
    assert "short-v2-api-key" not in str(caught.value)


def test_reprs_show_no_secret(
    profile: dict[str, Any], tmp_path: Path, mock: MockGateway, merchant_pem: bytes
) -> None:
    channel = WechatPayChannel.from_settings(profile, config_dir=tmp_path)
    order = CashOrder(out_trade_no="CFG-0002", amount=Fen(1), auth_code=code("1"))
    shown = repr(channel) + repr(order) + repr(channel.charge(order))
    assert mock.wechatpay.apiv3_key not in shown
    assert "PRIVATE KEY" not in shown
    assert merchant_pem.decode().splitlines()[1] not in shown
    assert code("1") not in shown
    assert "apiv3_key=<hidden>" in repr(channel)


def test_an_operation_the_channel_does_not_declare_is_refused_before_anything_is_sent(
    fake_channel: WechatPayChannel, router: respx.Router
) -> None:
    fake_channel.capabilities = frozenset(fake_channel.capabilities) - {
        cap for cap in fake_channel.capabilities if cap.value == "refund"
    }
    with pytest.raises(ConfigError, match="does not offer 'refund'"):
        fake_channel.refund("1217752501201407033233368018", "R-1", Fen(1), Fen(1))
    with pytest.raises(ConfigError, match="does not offer 'refund'"):
        fake_channel.refund_status("R-1")
    assert not router.calls


def test_for_mock_takes_the_mock_or_its_wechatpay_endpoint(mock: MockGateway) -> None:
    by_gateway = WechatPayChannel.for_mock(mock)
    by_endpoint = WechatPayChannel.for_mock(mock.wechatpay)
    assert by_gateway.mchid == by_endpoint.mchid == DEFAULT_MCHID
    assert by_gateway.platform.serials == [mock.wechatpay.platform_key_id]


# ---------------------------------------------------------------- the plugin


def test_the_plugin_registers_the_channel_factory_with_its_capabilities() -> None:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(plugin, name="wechatpay")
    found = adapter_registry(pm).get("wechatpay", "channel")
    assert found.factory == WechatPayChannel.from_settings
    assert found.capabilities == WechatPayChannel.capabilities
    # Recorded by gongji from the plugin's name, so `gongji plugins` lists it there.
    assert found.origin == "wechatpay"


def test_the_entry_point_names_the_plugin_module() -> None:
    [entry] = [
        ep for ep in importlib.metadata.entry_points(group="gongji") if ep.name == "wechatpay"
    ]
    assert entry.value == "gongji_wechatpay.plugin"
    assert entry.load() is plugin


def test_the_reference_lists_every_setting_capability_and_trade_state() -> None:
    text = (Path(__file__).parents[3] / "docs" / "reference" / "adapter-wechatpay.md").read_text(
        encoding="utf-8"
    )
    for key in KEYS:
        assert f"`{key}`" in text, key
    for capability in WechatPayChannel.capabilities:
        assert f"`{capability.value}`" in text, capability
    for trade_state in TRADE_STATES:
        assert f"`{trade_state}`" in text, trade_state
