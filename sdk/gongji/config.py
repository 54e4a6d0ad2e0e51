"""``gongji.toml`` profiles, and the profiles plugins give that need no file (``mock``).

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

[profiles.dalian.decoder]                  # the e-voucher decoder: QR text -> ecToken
adapter = "national-terminal"
url = "http://127.0.0.1:9999/ec/query"   # the national terminal service on this till

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

import httpx

from gongji.errors import ConfigError
from gongji.flows.setup import Polling
from gongji.journal.settings import journal_from_settings
from gongji.tls import tls_settings

if TYPE_CHECKING:
    import pluggy

__all__ = ["client_arguments", "client_arguments_from_file"]


def client_arguments(
    name: str,
    *,
    mock: object | None = None,
    url: str | None = None,
    till: int | None = None,
    plugins: pluggy.PluginManager | None = None,
) -> dict[str, Any]:
    """Constructor arguments for a profile that needs no file: one a plugin registered
    through ``gongji_register_profiles`` (``"mock"`` is ``gongji_mock``'s). Only the
    options given (not None) are passed to the profile's factory."""
    from gongji.profiles import profile_registry

    given = {k: v for k, v in {"mock": mock, "url": url, "till": till}.items() if v is not None}
    return profile_registry(plugins).get(name).arguments(given)


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
    decoder_settings = dict(_table(table, "decoder", where, required=False))
    if decoder_settings:
        adapter = str(decoder_settings.pop("adapter", "national-terminal"))
        arguments["decoder"] = registry.decoder(adapter, decoder_settings, config_dir)
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
