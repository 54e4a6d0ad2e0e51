"""TLS stays on: a profile or a client that switches certificate verification off, or
sends a city's traffic over plain http:// to another machine, is refused with a
ConfigError, unless the test-only GONGJI_ALLOW_INSECURE_TLS=1 is set. The mock over
loopback (or an in-process ``.invalid`` host) needs no flag."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from gongji import AsyncSettlementClient, Cash, ConfigError, Fen, SettlementClient
from gongji.config import client_arguments
from gongji.tls import ALLOW_INSECURE_ENV
from gongji_mock import MockGateway
from gongji_mock.gateway import DEFAULT_TIF_SECRET
from tests.client.conftest import MOTHER, SON, scanned_purchase

PROFILE = """
[profiles.dalian]
{top}
[profiles.dalian.gateway]
adapter = "cityins"
city = "dalian"
base_url = "{base_url}"
institution_code = "H21020200001"
institution_name = "大连测试药房"
pharmacist = "李药师"
pharmacist_cert_no = "ZY210200001"
paasid = "gongji-mock"
secret_env = "GONGJI_TEST_TIF"
{gateway}
"""


@pytest.fixture(autouse=True)
def _tif_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGJI_TEST_TIF", DEFAULT_TIF_SECRET)
    monkeypatch.delenv(ALLOW_INSECURE_ENV, raising=False)


def profile(
    tmp_path: Path,
    *,
    base_url: str = "https://hsa.example.gov.cn",
    top: str = "",
    gateway: str = "",
) -> Path:
    path = tmp_path / "gongji.toml"
    path.write_text(PROFILE.format(base_url=base_url, top=top, gateway=gateway), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("top", "gateway"),
    [
        ("verify = false", ""),
        ("", "verify = false"),
        ("", 'tls_verify = "no"'),
        ("", "ssl_verify = 0"),
        ("insecure = true", ""),
        ("", "insecure_skip_tls_verify = true"),
    ],
    ids=["profile-verify", "gateway-verify", "tls_verify-no", "ssl_verify-0", "insecure", "skip"],
)
def test_tls_verification_switched_off_in_a_profile_is_refused(
    tmp_path: Path, top: str, gateway: str
) -> None:
    with pytest.raises(ConfigError, match="TLS certificate verification off") as caught:
        SettlementClient.from_config(profile(tmp_path, top=top, gateway=gateway), profile="dalian")
    assert ALLOW_INSECURE_ENV in caught.value.next_step  # what to do, named


def test_plain_http_to_a_real_centre_is_refused_and_the_password_in_the_url_is_not_repeated(
    tmp_path: Path,
) -> None:
    url = "http://pos:hunter2@hsa.example.gov.cn:8080"
    with pytest.raises(ConfigError, match="plain http:// to another machine") as caught:
        SettlementClient.from_config(profile(tmp_path, base_url=url), profile="dalian")
    assert "http://hsa.example.gov.cn:8080" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_plain_http_in_a_channel_table_is_refused(tmp_path: Path) -> None:
    path = profile(tmp_path)
    path.write_text(
        path.read_text(encoding="utf-8")
        + '\n[profiles.dalian.channels.alipay]\nadapter = "alipay"\n'
        'base_url = "http://openapi.alipay.com/gateway.do"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"channels\.alipay\.base_url is plain http://"):
        SettlementClient.from_config(path, profile="dalian")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8930",
        "http://localhost:8930",
        "http://[::1]:8930",
        "http://centre.invalid",
    ],
)
def test_plain_http_to_this_machine_or_an_unresolvable_host_needs_no_flag(
    tmp_path: Path, url: str
) -> None:
    mock = MockGateway.demo()
    path = profile(tmp_path, base_url=url)
    with SettlementClient.from_config(path, profile="dalian", transport=mock.transport()) as client:
        receipt = client.settle(scanned_purchase(MOTHER), key="TLS-LOOP-1", cash=Cash.counter())
    assert receipt.cash == Fen(7_000) and mock.balance(SON) == Fen(460_000)


def test_the_test_only_flag_allows_verify_false_and_the_client_really_skips_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOW_INSECURE_ENV, "1")
    path = profile(tmp_path, base_url="http://hsa.example.gov.cn", gateway="verify = false")
    with SettlementClient.from_config(path, profile="dalian") as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._ssl_context.verify_mode is ssl.CERT_NONE


def test_the_flag_must_be_exactly_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_INSECURE_ENV, "yes")
    with pytest.raises(ConfigError, match="verification off"):
        SettlementClient.from_config(profile(tmp_path, gateway="verify = false"), profile="dalian")


def test_verify_true_in_a_profile_is_harmless_and_verification_stays_on(tmp_path: Path) -> None:
    with SettlementClient.from_config(
        profile(tmp_path, gateway="verify = true"), profile="dalian"
    ) as client:
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._ssl_context.verify_mode is ssl.CERT_REQUIRED


@pytest.mark.parametrize("kind", [SettlementClient, AsyncSettlementClient])
def test_a_client_built_with_verify_false_is_refused_before_anything_opens(
    kind: type[SettlementClient] | type[AsyncSettlementClient],
) -> None:
    with pytest.raises(ConfigError, match="verify=False"):
        kind(**client_arguments("mock"), verify=False)


def test_the_mock_profile_in_process_and_served_on_loopback_keeps_working() -> None:
    mock = MockGateway.demo()
    with SettlementClient.from_profile("mock", mock=mock) as client:
        assert client.preview(scanned_purchase(MOTHER)).cash == Fen(7_000)
    # A served mock's URL is loopback: accepted without any flag (nothing listening here).
    with pytest.raises(ConfigError, match="No gongji mock answers"):
        SettlementClient.from_profile("mock", url="http://127.0.0.1:9")


def test_default_clients_verify_certificates() -> None:
    with SettlementClient(**client_arguments("mock") | {"transport": None}) as client:
        assert isinstance(client._http._transport, httpx.HTTPTransport)  # type: ignore[attr-defined]
        pool = client._http._transport._pool  # type: ignore[attr-defined]
        assert pool._ssl_context.verify_mode is ssl.CERT_REQUIRED
