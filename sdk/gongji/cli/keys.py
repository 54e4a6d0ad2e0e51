"""``gongji keys generate``: a fresh set of the mock's channel keys, as files, for rehearsals.

The same roles the mock uses (``gongji_mock.testkeys.MockKeys``): WeChat Pay's merchant
and platform RSA keys and APIv3 key, Alipay's app and platform RSA keys. The city
gateway's TIF signature is an HMAC with a shared secret, not a key pair: the mock's
published test caller (docs/reference/mock-admin.md) needs no file.

Test keys for the mock, never for production: a production key is issued by the
channel's merchant console, and its private half never leaves the merchant. Each
file is created with mode 0600; a private key is never printed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gongji.cli.output import Output, json_option
from gongji.errors import InvalidInput

__all__ = ["add_commands", "run"]

WARNING = "TEST KEYS FOR THE MOCK ONLY - never use them in production."

#: Private files (the roles of ``MockKeys``): file name -> (what it is, the gongji.toml setting)
_FILES: dict[str, tuple[str, str]] = {
    "wechatpay-merchant-private.pem": (
        "WeChat Pay merchant private key (the POS signs)",
        "merchant_private_key_path",
    ),
    "wechatpay-platform-private.pem": (
        "WeChat Pay platform private key (the mock signs)",
        "-",
    ),
    "wechatpay-apiv3.key": (
        "WeChat Pay APIv3 key (32 characters)",
        "apiv3_key_path",
    ),
    "alipay-app-private.pem": (
        "Alipay app private key (the POS signs)",
        "app_private_key_path",
    ),
    "alipay-platform-private.pem": (
        "Alipay platform private key (the mock signs)",
        "-",
    ),
}
#: Public halves, for whoever verifies: file name -> (private file, what, gongji.toml setting)
_PUBLIC: dict[str, tuple[str, str, str]] = {
    "wechatpay-merchant-public.pem": (
        "wechatpay-merchant-private.pem",
        "WeChat Pay merchant public key (the mock verifies)",
        "-",
    ),
    "wechatpay-platform-public.pem": (
        "wechatpay-platform-private.pem",
        "WeChat Pay platform public key (the POS verifies)",
        "platform_public_key_path",
    ),
    "alipay-app-public.pem": (
        "alipay-app-private.pem",
        "Alipay app public key (the mock verifies)",
        "-",
    ),
    "alipay-platform-public.pem": (
        "alipay-platform-private.pem",
        "Alipay public key (the POS verifies)",
        "alipay_public_key_path",
    ),
}
_NOTICE = "README-TEST-KEYS.txt"


def add_commands(commands: Any) -> None:
    """Add ``keys generate`` to the ``gongji`` command's subparsers."""
    keys = commands.add_parser("keys", help="test keys for the mock (never for production)")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    generate = keys_commands.add_parser(
        "generate",
        parents=[json_option()],
        help="write a fresh set of TEST keys for the mock (never for production)",
        description=f"{WARNING} Writes the RSA keys (PEM, PKCS#8) and the APIv3 key the "
        "mock's WeChat Pay and Alipay use, each file with mode 0600. Prints file names and "
        "public-key fingerprints only, never a private key. Refuses to overwrite a file "
        "unless --force.",
    )
    generate.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=Path("gongji-test-keys"),
        help="the directory to write to, created if missing (default: ./gongji-test-keys)",
    )
    generate.add_argument("--force", action="store_true", help="overwrite existing key files")


def run(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    """Write the keys; refuse before writing anything when a file exists and not --force."""
    out = Output(args.json)
    directory: Path = args.out
    names = [*_FILES, *_PUBLIC, _NOTICE]
    existing = [name for name in names if (directory / name).exists()]
    if existing and not args.force:
        raise InvalidInput(
            f"{directory} already holds {', '.join(existing[:3])}"
            f"{' and more' if len(existing) > 3 else ''}; nothing was written.",
            next_step="Pass --force to replace them, or --out another directory.",
        )
    if directory.exists() and not directory.is_dir():
        raise InvalidInput(
            f"{directory} is a file, not a directory.", next_step="Pass --out a directory."
        )
    contents, fingerprints = _contents()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name in names:
            _write_private(directory / name, contents[name])
    except OSError as error:
        raise InvalidInput(
            f"The keys cannot be written to {directory} ({error.strerror}).",
            next_step="Pass --out a directory you may write to.",
        ) from None
    shown = [
        (name, what, setting if setting != "-" else None, fingerprints.get(name))
        for name, (what, setting) in [
            *_FILES.items(),
            *((name, (what, setting)) for name, (_, what, setting) in _PUBLIC.items()),
        ]
    ]
    if out.as_json:
        files = [
            {
                "path": str(directory / name),
                "what": what,
                "gongji_toml": setting,
                "fingerprint": sha,
            }
            for name, what, setting, sha in shown
        ]
        out.json({"warning": WARNING, "directory": str(directory), "mode": "0600", "files": files})
        return 0
    out.line(WARNING, "bold red")
    out.table(
        f"Test keys written to {directory} (mode 0600)",
        ["file", "what", "gongji.toml setting", "sha256 of the public key"],
        [[name, what, setting or "-", sha or "-"] for name, what, setting, sha in shown],
    )
    out.line("The private keys are in the files only; they are not printed.")
    return 0


def _contents() -> tuple[dict[str, str], dict[str, str]]:
    """Every file's text, and each key pair's public-key fingerprint. The keys are made
    here, fresh on every call (the mock's own, ``gongji_mock.testkeys``, are made once
    per process: a second ``generate`` in one program must not hand out the same set)."""
    import secrets

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from gongji.signing.keys import RsaPrivateKey

    contents: dict[str, str] = {"wechatpay-apiv3.key": secrets.token_hex(16) + "\n"}
    fingerprints: dict[str, str] = {}
    for name, (private_name, _, _) in _PUBLIC.items():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        contents[private_name] = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        contents[name] = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )
        fingerprints[name] = fingerprints[private_name] = RsaPrivateKey(key).fingerprint
    contents[_NOTICE] = (
        f"{WARNING}\n\nWritten by `gongji keys generate` for rehearsals against the gongji "
        "mock gateway.\nA production key comes from the WeChat Pay or Alipay merchant "
        "console, and its\nprivate half never leaves the merchant.\n"
    )
    return contents, fingerprints


def _write_private(path: Path, text: str) -> None:
    """Create (or, with --force, replace) ``path`` readable by its owner only: the mode is
    set when the file is created, so the key is never readable by others, not even briefly."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(text)
