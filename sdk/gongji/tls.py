"""TLS stays on: the one rule for every way a configuration could switch it off.

A till talks to gateways that move money. Without certificate verification anyone
on the path (a shop's Wi-Fi, a proxy) can read the payment codes and rewrite the
centre's answers, whose bodies carry no signature of their own on the national
envelope. So a profile that disables verification (``verify = false`` and its
spellings, ``insecure = true``) or points a gateway at plain ``http://`` on another
machine is refused, unless the environment variable ``GONGJI_ALLOW_INSECURE_TLS=1``
says this is a test run. Plain HTTP to this machine (``127.0.0.1``, ``::1``,
``localhost``: the served mock) or to a ``.invalid`` host (a name that never
resolves, reachable only through an in-process transport such as the mock's) needs
no flag: nothing crosses a network.

The flag is an environment variable, not a setting, on purpose: a profile file is
copied from the test bench to the shop; a test run's environment is not.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from gongji.errors import ConfigError

__all__ = [
    "ALLOW_INSECURE_ENV",
    "insecure_allowed",
    "require_verified",
    "require_verified_client",
    "tls_settings",
]

#: Set to ``1`` in a test run's environment to allow what this module otherwise refuses.
ALLOW_INSECURE_ENV = "GONGJI_ALLOW_INSECURE_TLS"

#: Settings that turn verification off when false ...
_VERIFY_KEYS = frozenset({"verify", "tls_verify", "ssl_verify", "verify_ssl", "verify_tls"})
#: ... and when true.
_INSECURE_KEYS = frozenset({"insecure", "insecure_skip_verify", "insecure_skip_tls_verify"})
_URL_KEYS = frozenset({"base_url", "url", "gateway_url", "premium_url"})
_LOOPBACK_NAMES = frozenset({"localhost"})
_NEXT_STEP = (
    "Remove the setting and use the gateway's https:// address (a private CA goes in "
    f"SSL_CERT_FILE). Only a test run may set {ALLOW_INSECURE_ENV}=1 to allow it."
)


def insecure_allowed() -> bool:
    """True only when this process runs with ``GONGJI_ALLOW_INSECURE_TLS=1``."""
    return os.environ.get(ALLOW_INSECURE_ENV, "") == "1"


def require_verified(verify: bool, where: str) -> None:
    """Refuse ``verify=False`` given to a client, unless the test-only flag is set."""
    if verify is not True and not insecure_allowed():
        raise ConfigError(
            f"{where} turns TLS certificate verification off: anyone between the till and "
            "the gateway could read payment codes and rewrite the centre's answers.",
            next_step=_NEXT_STEP,
        )


def require_verified_client(http: httpx.Client | httpx.AsyncClient, where: str) -> None:
    """Refuse an ``http=`` client whose transports do not verify certificates (made with
    ``verify=False``), unless the test-only flag is set. A transport of another kind (an
    in-process ``MockTransport``) crosses no network and is left alone."""
    transports = [getattr(http, "_transport", None), *getattr(http, "_mounts", {}).values()]
    for transport in transports:
        context = getattr(getattr(transport, "_pool", None), "_ssl_context", None)
        if isinstance(context, ssl.SSLContext) and (
            context.verify_mode == ssl.CERT_NONE or not context.check_hostname
        ):
            require_verified(False, where)


def tls_settings(table: Mapping[str, Any], where: str) -> tuple[dict[str, Any], bool]:
    """``table`` (a profile) without its TLS switches, and whether verification stays on.

    Raises ``ConfigError`` for a switch that turns it off, or a plain ``http://`` URL
    to another machine, unless the test-only flag is set.
    """
    verify = True
    cleaned: dict[str, Any] = {}
    for key, value in table.items():
        here = f"{where}.{key}"
        if isinstance(value, Mapping):
            cleaned[key], inner = tls_settings(value, here)
            verify = verify and inner
            continue
        if key in _VERIFY_KEYS or key in _INSECURE_KEYS:
            off = _is_off(value) if key in _VERIFY_KEYS else not _is_off(value)
            if off:
                require_verified(False, here)
                verify = False
            continue  # the switch is the profile's, not an adapter's setting
        plain = key in _URL_KEYS and isinstance(value, str) and _plain_http_elsewhere(value)
        if plain and not insecure_allowed():
            raise ConfigError(
                f"{here} is plain http:// to another machine ({_where(str(value))}): the "
                "payment codes and the centre's answers would cross the network unencrypted.",
                next_step=_NEXT_STEP,
            )
        cleaned[key] = value
    return cleaned, verify


def _is_off(value: object) -> bool:
    """False, 0, "false", "no", "off", "0" (TOML has booleans, but people write strings)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value == 0
    return str(value).strip().lower() in {"false", "no", "off", "0", ""}


def _plain_http_elsewhere(url: str) -> bool:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False  # the adapter refuses it with its own words
    if parsed.scheme != "http":
        return False
    return not _loopback(parsed.host)


def _loopback(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name in _LOOPBACK_NAMES or name == "invalid" or name.endswith(".invalid"):
        return True  # RFC 6761: "invalid" never resolves; only an in-process transport answers
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _where(url: str) -> str:
    """Scheme, host and port only: a URL may carry a user and password."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
