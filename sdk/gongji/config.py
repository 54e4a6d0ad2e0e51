"""``gongji.toml`` profiles, and the ``mock`` profile that needs no file at all.

A profile names its adapters and their settings; each adapter reads its own table.
Secrets never sit in the file: ``resolve_secrets`` (used by the city gateway) reads
a setting ``<name>_file`` from that file and ``<name>_env`` from that environment
variable; key files are given by path. See docs/reference/config.md.

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

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import httpx

from gongji.errors import ConfigError
from gongji.flows.setup import Polling

if TYPE_CHECKING:
    from gongji_mock import MockGateway

__all__ = ["client_arguments", "client_arguments_from_file", "resolve_secrets"]

#: The in-process mock's addresses; the host is never resolved (the transport is in process).
MOCK_CENTRE_URL = "http://centre.gongji-mock.invalid"
MOCK_INSTITUTION = ("H21020200001", "大连共济测试药房")
#: Where the channels are told to post their callbacks; in process the mock collects them.
MOCK_NOTIFY_URL = "https://pos.gongji-mock.invalid/notify"


def client_arguments(
    name: str, *, mock: MockGateway | None = None, asynchronous: bool = False
) -> dict[str, Any]:
    """Constructor arguments for the profiles that need no file (only ``"mock"``)."""
    if name != "mock":
        raise ConfigError(
            f"The profile {name!r} needs a configuration file.",
            next_step="Use SettlementClient.from_config('gongji.toml', profile=...), or the 'mock' profile.",
        )
    from gongji.signing.tif import TifAuth, TifSigner
    from gongji_alipay import AlipayChannel
    from gongji_cityins import CITIES, CityInsuranceGateway, Institution
    from gongji_mock import MockGateway
    from gongji_mock.gateway import DEFAULT_PAASID, DEFAULT_TIF_SECRET
    from gongji_wechatpay import WechatPayChannel

    mock = mock if mock is not None else MockGateway.demo()
    policy = mock.centre.dataset.policy.id
    city = next((c for c in CITIES.values() if c.policy == policy), CITIES["dalian"])
    gateway = CityInsuranceGateway(
        profile=attrs.evolve(city, base_url=MOCK_CENTRE_URL, policy=policy),
        institution=Institution(code=MOCK_INSTITUTION[0], name=MOCK_INSTITUTION[1]),
        auth=TifAuth(TifSigner(DEFAULT_PAASID, DEFAULT_TIF_SECRET)),
    )
    channels = {
        "wechatpay": WechatPayChannel.for_mock(mock.wechatpay, refund_notify_url=MOCK_NOTIFY_URL),
        "alipay": AlipayChannel.for_mock(mock.alipay, notify_url=MOCK_NOTIFY_URL),
    }
    return {
        "gateway": gateway,
        "channels": channels,
        "transport": mock.transport(),
        "policy": policy,
    }


def client_arguments_from_file(
    path: Path, profile: str, *, asynchronous: bool = False
) -> dict[str, Any]:
    """Constructor arguments from ``profile`` in the TOML file at ``path``."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(
            f"There is no configuration file at {path}.",
            next_step="Create it (docs/reference/config.md) or pass the right path.",
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"{path} is not valid TOML: {error}.", next_step="Fix the file."
        ) from error
    profiles = document.get("profiles", {})
    if profile not in profiles:
        raise ConfigError(
            f"{path} has no profile {profile!r}.",
            next_step=f"Use one of: {', '.join(sorted(profiles)) or 'none defined'}.",
        )
    table = profiles[profile]
    where = f"{path} [profiles.{profile}]"
    from gongji.plugins import adapter_registry

    registry = adapter_registry()
    gateway_settings = resolve_secrets(_table(table, "gateway", where), f"{where}.gateway")
    gateway = registry.get(str(gateway_settings.get("adapter", "cityins")), "insurance").factory(
        gateway_settings
    )
    channels = {}
    for name, settings in _table(table, "channels", where, required=False).items():
        resolved = resolve_secrets(settings, f"{where}.channels.{name}")
        channels[name] = registry.get(str(resolved.get("adapter", name)), "channel").factory(
            resolved
        )
    arguments: dict[str, Any] = {"gateway": gateway, "channels": channels}
    if "policy" in table:
        arguments["policy"] = str(table["policy"])
    timeouts = _table(table, "timeouts", where, required=False)
    if timeouts:
        arguments["timeout"] = httpx.Timeout(
            _seconds(timeouts, "read", 10, where), connect=_seconds(timeouts, "connect", 3, where)
        )
    polling = _table(table, "polling", where, required=False)
    if polling:
        arguments["polling"] = Polling(**{k: int(v) for k, v in polling.items()})
    return arguments


def resolve_secrets(settings: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``x_file`` and ``x_env`` become ``x``; the secret itself never appears in an error."""
    resolved: dict[str, Any] = {}
    for key, value in settings.items():
        if key.endswith("_file"):
            name = key.removesuffix("_file")
            try:
                resolved[name] = Path(str(value)).read_text(encoding="utf-8").strip()
            except OSError as error:
                raise ConfigError(
                    f"{where}.{key}: the file {value} cannot be read ({error.strerror}).",
                    next_step="Check the path and the file's permissions.",
                ) from error
        elif key.endswith("_env"):
            name = key.removesuffix("_env")
            if str(value) not in os.environ:
                raise ConfigError(
                    f"{where}.{key}: the environment variable {value} is not set.",
                    next_step=f"Export {value} before starting the till.",
                )
            resolved[name] = os.environ[str(value)]
        else:
            resolved[key] = value
    return resolved


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
