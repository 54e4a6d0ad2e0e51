"""The journal key: what seals the full ID numbers a journal row carries.

A row keeps each ID number twice: masked, for listing and reprinting, and sealed with
AES-256-GCM under a key that is not in the database. The sealed form is bound to its
entry's key (the associated data), so a sealed number cannot be moved to another
entry unnoticed. Someone holding the database and not the key sees masked numbers only.

Where the key lives: a file (base64 text, mode 0600; ``SqliteJournal`` creates one
next to its database on first use) or an environment variable holding the same text.
``JournalKey.create(path)`` writes a new key file, for a chain's shared journal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Protocol

from attrs import frozen
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gongji.errors import ConfigError

__all__ = ["JournalKey", "KeySource", "SealCache", "Sealer"]

_KEY_BYTES = 32
_NONCE_BYTES = 12
_ID_LABEL = b"gongji journal key id v1"
_SALT_LABEL = b"gongji fingerprint salt v1"
_AAD_LABEL = b"gongji journal entry v1\x00"


class JournalKey:
    """A 256-bit AES-GCM key. Its repr shows only its id, a digest that reveals nothing."""

    __slots__ = ("_aead", "_secret", "key_id")

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) != _KEY_BYTES:
            raise ConfigError(
                f"A journal key is {_KEY_BYTES} bytes.",
                next_step="Create one with gongji.journal.JournalKey.create(path).",
            )
        self._secret = secret
        self._aead = AESGCM(secret)
        #: Stored in the journal's meta table, so a wrong key is told apart from a damaged row.
        self.key_id = hmac.new(secret, _ID_LABEL, hashlib.sha256).hexdigest()[:16]

    @classmethod
    def generate(cls) -> JournalKey:
        return cls(secrets.token_bytes(_KEY_BYTES))

    @classmethod
    def from_text(cls, text: str, where: str) -> JournalKey:
        """The key from its text form (base64 of 32 bytes), as a key file or variable holds it."""
        try:
            secret = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            secret = b""
        if len(secret) != _KEY_BYTES:
            raise ConfigError(
                f"{where} does not hold a journal key (base64 of {_KEY_BYTES} bytes).",
                next_step="Point the journal at its own key file, or create a new journal with a new key.",
            )
        return cls(secret)

    @classmethod
    def load(cls, path: str | Path) -> JournalKey:
        path = Path(path)
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise ConfigError(
                f"The journal key file {path} does not exist.",
                next_step="Restore it from the till's backup (the journal cannot be read without it).",
            ) from None
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not text"
            raise ConfigError(
                f"The journal key file {path} cannot be read ({reason}).",
                next_step="Check the file and its permissions (it belongs to the till's user, mode 0600).",
            ) from None
        if sys.platform != "win32" and mode & 0o077:
            raise ConfigError(
                f"The journal key file {path} can be read by other users (mode {mode & 0o777:o}).",
                next_step=f"Run `chmod 600 {path}`; a key others can read protects nothing.",
            )
        return cls.from_text(text, f"The journal key file {path}")

    @classmethod
    def create(cls, path: str | Path) -> JournalKey:
        """A new key written to ``path`` (mode 0600); if ``path`` appeared meanwhile, the key in it.

        The file is written under a temporary name and linked into place, so two processes
        creating it at once end up with one key, never with a half-written file.
        """
        path = Path(path)
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as out:
                out.write(key.text() + "\n")
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                return cls.load(path)
            _fsync_directory(path.parent)
        finally:
            temporary.unlink(missing_ok=True)
        return key

    def text(self) -> str:
        """The key as a key file or an environment variable holds it. Never log it."""
        return base64.b64encode(self._secret).decode("ascii")

    def fingerprint_salt(self, stored: bytes) -> bytes:
        """The purchase-fingerprint salt: the journal's stored salt keyed with this key, so a
        fingerprint cannot be tested against guessed purchases by someone without the key."""
        return hmac.new(self._secret, _SALT_LABEL + stored, hashlib.sha256).digest()

    def seal(self, text: str, context: str) -> str:
        """``text`` encrypted and bound to ``context`` (the entry's key), as base64 text."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), _AAD_LABEL + context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, context: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
            plain = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD_LABEL + context.encode()
            )
        except (InvalidTag, ValueError, binascii.Error):
            raise ConfigError(
                f"A sealed ID number of the journal entry {context[:80]!r} does not open "
                "with this key: the row was altered or copied from another entry.",
                next_step="Restore the journal from a backup; do not edit journal rows by hand.",
            ) from None
        return plain.decode("utf-8")

    def __repr__(self) -> str:
        return f"JournalKey(key_id={self.key_id!r})"

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("A journal key is not pickled; pass its file or variable instead.")


class Sealer(Protocol):
    """What seals the ID numbers of a row: a ``JournalKey``, or a ``SealCache`` over one."""

    def seal(self, text: str, context: str) -> str: ...


class SealCache:
    """The sealed forms of the entries a journal object is writing, sealed once each.

    A sale writes its entry several times (pending, then with the centre's settlement,
    then settled), and every write after the second carries the same ID numbers under
    the same entry key: the same sealed text serves them all, as a second seal would
    only differ by its nonce. A sale's sealed forms are dropped when its lease is
    released (``forget``), and all of them past ``limit`` entries.
    """

    __slots__ = ("_by_context", "_key", "_limit")

    def __init__(self, key: JournalKey, limit: int = 64) -> None:
        self._key = key
        self._limit = limit
        self._by_context: dict[str, dict[str, str]] = {}

    def seal(self, text: str, context: str) -> str:
        sealed = self._by_context.get(context)
        if sealed is None:
            if len(self._by_context) >= self._limit:
                self._by_context.clear()
            sealed = self._by_context[context] = {}
        found = sealed.get(text)
        if found is None:
            found = sealed[text] = self._key.seal(text, context)
        return found

    def forget(self, context: str) -> None:
        self._by_context.pop(context, None)

    def __repr__(self) -> str:
        return f"SealCache(entries={len(self._by_context)})"


@frozen
class KeySource:
    """Where a journal finds its key: a file, or an environment variable (base64 text)."""

    file: Path | None = None
    env: str | None = None

    def describe(self) -> str:
        if self.env is not None:
            return f"the environment variable {self.env}"
        if self.file is not None:
            return f"the key file {self.file}"
        return "no key (none was configured)"

    def available(self) -> bool:
        if self.env is not None:
            return self.env in os.environ
        return self.file is not None and self.file.exists()

    def load(self) -> JournalKey:
        if self.env is not None:
            if self.env not in os.environ:
                raise ConfigError(
                    f"The environment variable {self.env} (the journal key) is not set.",
                    next_step=f"Export {self.env} before starting the till.",
                )
            return JournalKey.from_text(
                os.environ[self.env], f"The environment variable {self.env}"
            )
        if self.file is None:
            raise ConfigError(
                "No journal key is configured.",
                next_step="Give the journal a key_file or key_env (docs/reference/journal.md).",
            )
        return JournalKey.load(self.file)

    def create(self) -> JournalKey | None:
        """A new key where a file is configured; None where the key can only be given."""
        if self.env is not None or self.file is None:
            return None
        return JournalKey.create(self.file)


def _fsync_directory(directory: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - no directory fsync there
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
