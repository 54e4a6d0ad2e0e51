"""``gongji.toml`` profiles, and the ``mock`` profile that needs no file at all.

A profile names its adapters and their settings; each adapter's factory reads its
own table, with the file's folder for relative paths. Secrets never sit in the file:
every adapter reads them through ``gongji.gateways.secrets`` (a setting ``<name>_file``
names a file, ``<name>_env`` an environment variable); key files are given by path.
See docs/reference/config.md.

```toml
[profiles.dalian]
policy = "liaoning-dalian-2025"          # optional: the gateway's city decides by default

[profiles.dalian.gateway]
adapter = "cityins"
city = "dalian"
base_url = "https://hsa.example.gov.cn"
institution_code = "H21020200001"
institution_name = "某某大药房"
paasid = "POS01"
secret_env = "GONGJI_TIF_SECRET"

[profiles.dalian.channels.wechatpay]
adapter = "wechatpay"
# ... the adapter's own settings (docs/reference/adapter-wechatpay.md)

[profiles.dalian.timeouts]
connect = 3                               # seconds
read = 10
```
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import msgspec

import gongji.jsonwire as jsonwire
from gongji.errors import ConfigError
from gongji.flows.setup import Polling
from gongji.journal import MemoryJournal
from gongji.journal.settings import journal_from_settings
from gongji.tls import tls_settings

if TYPE_CHECKING:
    from gongji_cityins import CityInsuranceGateway
    from gongji_mock import MockGateway

__all__ = ["client_arguments", "client_arguments_from_file"]

#: The in-process mock's addresses; the host is never resolved (the transport is in process).
MOCK_CENTRE_URL = "http://centre.gongji-mock.invalid"
MOCK_INSTITUTION = ("H21020200001", "大连共济测试药房")
#: Where the channels are told to post their callbacks; in process the mock collects them.
MOCK_NOTIFY_URL = "https://pos.gongji-mock.invalid/notify"


#: How long a till waits for a served mock's keys: it is on this machine, or nowhere.
MOCK_KEYS_TIMEOUT = httpx.Timeout(3.0)


def client_arguments(
    name: str,
    *,
    mock: MockGateway | None = None,
    url: str | None = None,
    till: int | None = None,
) -> dict[str, Any]:
    """Constructor arguments for the profiles that need no file (only ``"mock"``).

    Without ``url``: the in-process mock (``mock``, or the demo one), through its
    transport. With ``url``: a mock served by ``gongji mock serve`` at that address,
    over real HTTP, with the test keys it hands out at ``GET {url}/gongji-admin/keys``.
    """
    if name != "mock":
        raise ConfigError(
            f"The profile {name!r} needs a configuration file.",
            next_step="Use SettlementClient.from_config('gongji.toml', profile=...), or the 'mock' profile.",
        )
    if url is not None:
        if mock is not None:
            raise ConfigError(
                "The mock profile takes either mock= (a mock in this process) or url= "
                "(a mock served over HTTP), not both.",
                next_step="Pass mock= to settle in process, or url= to settle against "
                "`gongji mock serve`.",
            )
        return _served_mock_arguments(url, till)
    from gongji_alipay import AlipayChannel
    from gongji_mock import MockGateway
    from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
    from gongji_wechatpay import WechatPayChannel

    mock = mock if mock is not None else MockGateway.demo()
    policy = mock.centre.dataset.policy.id
    gateway = _mock_centre(MOCK_CENTRE_URL, policy, DEFAULT_PAASID, DEFAULT_TIF_SECRET, till)
    channels = {
        "wechatpay": WechatPayChannel.for_mock(mock.wechatpay, refund_notify_url=MOCK_NOTIFY_URL),
        "alipay": AlipayChannel.for_mock(mock.alipay, notify_url=MOCK_NOTIFY_URL),
    }
    return {
        "gateway": gateway,
        "channels": channels,
        "transport": mock.transport(),
        "policy": policy,
        # A rehearsal writes nothing to the user's home; pass journal= to keep one.
        "journal": MemoryJournal(),
    }


class _TifCaller(msgspec.Struct, frozen=True, kw_only=True):
    paasid: str
    secret: str

    def __repr__(self) -> str:
        return f"_TifCaller(paasid={self.paasid!r}, secret=<hidden>)"


class _WechatPayKeys(msgspec.Struct, frozen=True, kw_only=True):
    mchid: str
    appid: str
    merchant_serial_no: str
    merchant_private_key: str  # PEM
    platform_public_key_id: str
    platform_public_key: str  # PEM
    apiv3_key: str

    def __repr__(self) -> str:
        return f"_WechatPayKeys(mchid={self.mchid!r}, <keys hidden>)"


class _AlipayKeys(msgspec.Struct, frozen=True, kw_only=True):
    app_id: str
    app_private_key: str  # PEM
    alipay_public_key: str  # PEM

    def __repr__(self) -> str:
        return f"_AlipayKeys(app_id={self.app_id!r}, <keys hidden>)"


class _ServedMockKeys(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /gongji-admin/keys`` of a served mock (docs/reference/mock-admin.md); other
    fields are tolerated."""

    policy: str
    tif: _TifCaller
    wechatpay: _WechatPayKeys
    alipay: _AlipayKeys

    def __repr__(self) -> str:
        return f"_ServedMockKeys(policy={self.policy!r}, <keys hidden>)"


def _mock_centre(
    base_url: str, policy: str, paasid: str, secret: str, till: int | None
) -> CityInsuranceGateway:
    """The mock's insurance centre, as the city gateway of the mock's policy sees it."""
    from gongji.signing.tif import TifAuth, TifSigner
    from gongji_cityins import CITIES, CityInsuranceGateway, Institution

    city = next((c for c in CITIES.values() if c.policy == policy), CITIES["dalian"])
    return CityInsuranceGateway(
        profile=attrs.evolve(city, base_url=base_url, policy=policy),
        institution=Institution(code=MOCK_INSTITUTION[0], name=MOCK_INSTITUTION[1], till=till),
        auth=TifAuth(TifSigner(paasid, secret)),
    )


def _served_mock_arguments(url: str, till: int | None) -> dict[str, Any]:
    """The mock profile against ``gongji mock serve`` at ``url``: real HTTP, its test keys."""
    from gongji.signing.alipay import AlipaySigner, AlipayVerifier
    from gongji.signing.alipay_certs import AlipayPublicKeys
    from gongji.signing.keys import load_private_key, load_public_key
    from gongji.signing.wechatpay import WechatPayMerchant
    from gongji.signing.wechatpay_keys import PlatformKeyStore
    from gongji_alipay import AlipayChannel
    from gongji_alipay.gateway import DEFAULT_BASE_URL as ALIPAY_URL
    from gongji_wechatpay import WechatPayChannel

    base = url.rstrip("/")
    keys = _fetch_served_mock_keys(base)
    gateway = _mock_centre(base, keys.policy, keys.tif.paasid, keys.tif.secret, till)
    wx, ali = keys.wechatpay, keys.alipay
    # No notify URLs: a served mock POSTs callbacks only where --notify-url tells it.
    channels = {
        "wechatpay": WechatPayChannel(
            merchant=WechatPayMerchant(
                mchid=wx.mchid,
                serial_no=wx.merchant_serial_no,
                private_key=load_private_key(wx.merchant_private_key),
            ),
            platform=PlatformKeyStore(
                public_keys={wx.platform_public_key_id: load_public_key(wx.platform_public_key)}
            ),
            apiv3_key=wx.apiv3_key,
            appid=wx.appid,
            base_url=base,
        ),
        "alipay": AlipayChannel(
            signer=AlipaySigner(
                app_id=ali.app_id, private_key=load_private_key(ali.app_private_key)
            ),
            verifier=AlipayVerifier(
                AlipayPublicKeys(public_key=load_public_key(ali.alipay_public_key))
            ),
            # Alipay's base URL is the gateway's full address: the mock serves Alipay's path.
            base_url=base + httpx.URL(ALIPAY_URL).path,
        ),
    }
    return {
        "gateway": gateway,
        "channels": channels,
        "policy": keys.policy,
        "journal": MemoryJournal(),
    }


def _fetch_served_mock_keys(base: str) -> _ServedMockKeys:
    """``GET {base}/gongji-admin/keys``, with one short-lived client and a short timeout."""
    try:
        parsed = httpx.URL(base)
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"The mock's url {base[:80]!r} is not an http(s) URL.",
            next_step="Give the address `gongji mock serve` printed, e.g. http://127.0.0.1:8930.",
        )
    # Never the whole URL in an error: it could carry a user and password.
    where = f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
    try:
        with httpx.Client(timeout=MOCK_KEYS_TIMEOUT) as http:
            response = http.get(f"{base}/gongji-admin/keys")
    except httpx.HTTPError as error:
        raise ConfigError(
            f"No gongji mock answers at {where} ({type(error).__name__}); "
            "its test keys could not be fetched.",
            next_step="Start one with `gongji mock serve` (its first line says where it "
            "listens) and pass that URL, or leave url out to use a mock in this process.",
        ) from None
    if response.status_code != 200:
        raise ConfigError(
            f"{where} answered GET /gongji-admin/keys with HTTP {response.status_code}: "
            "it is not a gongji mock, or one too old to hand out its keys.",
            next_step="Check the URL (the one `gongji mock serve` printed), and run a mock of "
            "this gongji version.",
        )
    try:
        return jsonwire.decode(response.content, type=_ServedMockKeys)
    except msgspec.DecodeError as error:  # ValidationError included; neither repeats a value
        raise ConfigError(
            f"{where} answered GET /gongji-admin/keys with something other than a gongji "
            f"mock's keys ({str(error)[:120]}).",
            next_step="Run a mock of this gongji version at that address.",
        ) from None


def client_arguments_from_file(path: Path, profile: str, *, journal: bool = True) -> dict[str, Any]:
    """Constructor arguments from ``profile`` in the TOML file at ``path``; with ``journal``,
    the journal of its ``[journal]`` table when it has one (else the client's default)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(
            f"There is no configuration file at {path}.",
            next_step="Create it (docs/reference/config.md) or pass the right path.",
        ) from error
    # A TOMLDecodeError, invalid UTF-8, or an integer past 4300 digits (a plain ValueError).
    except (ValueError, RecursionError) as error:
        raise ConfigError(
            f"{path} is not valid TOML: {error}.", next_step="Fix the file."
        ) from error
    profiles = _table(document, "profiles", str(path), required=False)
    if profile not in profiles:
        raise ConfigError(
            f"{path} has no profile {profile!r}.",
            next_step=f"Use one of: {', '.join(sorted(profiles)) or 'none defined'}.",
        )
    where = f"{path} [profiles.{profile}]"
    # TLS switches are refused (or, in a test run, taken out for the client) first.
    table, verify = tls_settings(_table(profiles, profile, f"{path} [profiles]"), where)
    from gongji.plugins import adapter_registry

    registry = adapter_registry()
    # Each adapter reads its own table, secrets included, and reads relative paths from
    # the file's folder; ``adapter`` is the profile's key, naming who gets the table.
    config_dir = path.resolve().parent
    gateway_settings = dict(_table(table, "gateway", where))
    adapter = str(gateway_settings.pop("adapter", "cityins"))
    gateway = registry.gateway(adapter, gateway_settings, config_dir)
    channels = {}
    channels_table = _table(table, "channels", where, required=False)
    for name in channels_table:
        settings = dict(_table(channels_table, name, f"{where}.channels"))
        adapter = str(settings.pop("adapter", name))
        channels[name] = registry.channel(adapter, settings, config_dir)
    arguments: dict[str, Any] = {"gateway": gateway, "channels": channels}
    if not verify:
        arguments["verify"] = False
    if "policy" in table:
        arguments["policy"] = str(table["policy"])
    timeouts = _table(table, "timeouts", where, required=False)
    if timeouts:
        arguments["timeout"] = httpx.Timeout(
            _seconds(timeouts, "read", 10, where), connect=_seconds(timeouts, "connect", 3, where)
        )
    journal_settings = _table(table, "journal", where, required=False)
    if journal and journal_settings:
        arguments["journal"] = journal_from_settings(
            journal_settings, f"{where}.journal", base=config_dir
        )
    polling = _table(table, "polling", where, required=False)
    if polling:
        try:
            arguments["polling"] = Polling(**{k: int(v) for k, v in polling.items()})
        except (TypeError, ValueError, OverflowError) as error:  # OverflowError: int(inf)
            raise ConfigError(
                f"{where}.polling is not understood ({error}).",
                next_step="Use whole numbers for interval_ms, attempts and read_retries.",
            ) from error
    return arguments


def _table(
    table: Mapping[str, Any], name: str, where: str, *, required: bool = True
) -> dict[str, Any]:
    found = table.get(name)
    if found is None and not required:
        return {}
    if not isinstance(found, dict):
        raise ConfigError(
            f"{where} needs a [{name}] table.", next_step="Add it (docs/reference/config.md)."
        )
    return found


def _seconds(
    table: Mapping[str, Any], key: str, default: int, where: str
) -> float:  # float-ok: seconds, not money
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 120:
        raise ConfigError(f"{where}.timeouts.{key} must be a number of seconds from 0 to 120.")
    return float(value)  # float-ok: seconds
