"""``PostgresJournal``: one journal shared by the tills of a chain (psycopg 3, extra ``postgres``).

The same rows as ``SqliteJournal`` in a schema of their own (``gongji`` by default).
Every write is one autocommitted statement, so it is durable on the server when ``put``
returns; a ``put(durable=False)`` and a lease's release commit without waiting for the
server's WAL flush (``synchronous_commit`` off for that transaction alone). ``acquire``
is a single ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired``: two tills asking
for one key at once get one lease between them, whatever the timing.
Lease expiry is measured on the server's clock, so the tills' clocks need not agree.

The journal key is never in the database: every till gets it from its configuration
(a key file, or an environment variable holding the same text). A connection that
breaks is opened again once before ``JournalUnavailable`` is raised; every statement
is safe to repeat.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from gongji import clock as beijing
from gongji.errors import ConfigError, JournalUnavailable
from gongji.journal import msgids
from gongji.journal.codec import Columns
from gongji.journal.durable import SCHEMA_VERSION, DurableJournal
from gongji.journal.lease import DEFAULT_LEASE_SECONDS, LeaseHolder, provably_dead
from gongji.journal.msgids import MsgidOwner, MsgidRequest
from gongji.journal.sealing import JournalKey, KeySource

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresJournal", "dsn_has_password"]

T = TypeVar("T")

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: Serialises creating the tables when several tills open a new journal at once.
_SCHEMA_LOCK = 0x676F6E676A69  # "gongji"

_TABLES = [
    "CREATE TABLE {s}.meta (name text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE {s}.entries (
        key text PRIMARY KEY,
        state text NOT NULL,
        attempt integer NOT NULL,
        settlement_id text,
        psn_no text NOT NULL,
        day date,
        updated_at timestamptz,
        document jsonb NOT NULL
    )""",
    "CREATE INDEX entries_by_settlement ON {s}.entries (settlement_id)",
    "CREATE INDEX entries_by_state ON {s}.entries (state)",
    "CREATE INDEX entries_by_day ON {s}.entries (day)",
    """CREATE TABLE {s}.leases (
        key text PRIMARY KEY,
        owner text NOT NULL,
        host text NOT NULL,
        pid integer NOT NULL,
        process text NOT NULL,
        expires_at timestamptz NOT NULL
    )""",
]
#: Added by schema version 2 (a journal of version 1 gains it when opened).
_MSGIDS = (
    "CREATE TABLE {s}.msgids (msgid text PRIMARY KEY, key text NOT NULL, purpose text NOT NULL)"
)

_HIGHEST_MSGID = "SELECT max(msgid) FROM {s}.msgids WHERE msgid BETWEEN %s AND %s"

_CLAIM_MSGID = """
INSERT INTO {s}.msgids (msgid, key, purpose) VALUES (%s, %s, %s)
ON CONFLICT (msgid) DO NOTHING RETURNING msgid
"""

_PUT = """
WITH renewed AS (
    UPDATE {s}.leases SET expires_at = now() + make_interval(secs => %(lease)s)
    WHERE key = %(key)s AND owner = %(owner)s AND %(renew)s
)
INSERT INTO {s}.entries (key, state, attempt, settlement_id, psn_no, day, updated_at, document)
VALUES (%(key)s, %(state)s, %(attempt)s, %(settlement_id)s, %(psn_no)s, %(day)s,
        %(updated_at)s, %(document)s::jsonb)
ON CONFLICT (key) DO UPDATE SET
    state = excluded.state, attempt = excluded.attempt, settlement_id = excluded.settlement_id,
    psn_no = excluded.psn_no, day = excluded.day, updated_at = excluded.updated_at,
    document = excluded.document
"""

_TAKE = """
INSERT INTO {s}.leases AS held (key, owner, host, pid, process, expires_at)
VALUES (%(key)s, %(owner)s, %(host)s, %(pid)s, %(process)s,
        now() + make_interval(secs => %(lease)s))
ON CONFLICT (key) DO UPDATE SET
    owner = excluded.owner, host = excluded.host, pid = excluded.pid,
    process = excluded.process, expires_at = excluded.expires_at
WHERE held.expires_at <= now() OR held.owner = excluded.owner
RETURNING held.owner
"""

_TAKE_FROM_DEAD = """
UPDATE {s}.leases SET owner = %(owner)s, host = %(host)s, pid = %(pid)s,
    process = %(process)s, expires_at = now() + make_interval(secs => %(lease)s)
WHERE key = %(key)s AND owner = %(dead)s
RETURNING owner
"""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            "The PostgreSQL journal needs psycopg, which is not installed.",
            next_step="Install gongji with its postgres extra: pip install 'gongji[postgres]'.",
        ) from None
    return psycopg


def dsn_has_password(dsn: str) -> bool:
    """Whether a connection string carries a password (which belongs in no config file)."""
    try:
        return bool(_psycopg().conninfo.conninfo_to_dict(dsn).get("password"))
    except Exception:  # not understood: PostgresJournal says so, without echoing it
        return False


def _unflushed(
    work: Callable[[psycopg.Connection[Any]], T],
) -> Callable[[psycopg.Connection[Any]], T]:
    """``work`` in a transaction whose commit does not wait for its WAL flush: for a write
    recovery can make again (``put(durable=False)``), which only a crash of the server in
    the next instant could lose, never a crash of the till."""

    def run(db: psycopg.Connection[Any]) -> T:
        # Pipelined (libpq 14 and later): BEGIN, SET, the work and COMMIT in one round trip.
        pipelined = _psycopg().Pipeline.is_supported()
        with db.pipeline() if pipelined else contextlib.nullcontext(), db.transaction():
            db.execute("SET LOCAL synchronous_commit TO OFF")
            return work(db)

    return run


class PostgresJournal(DurableJournal):
    """The journal in a PostgreSQL schema, shared by every till whose configuration names it.

    ``dsn`` is a libpq connection string or URL (it may hold a password: it is never shown;
    errors name the host, port and database). The key comes from ``key`` itself,
    ``key_file`` (created, 0600, by the first till that opens a new journal with it) or
    ``key_env``; without one the journal can be listed masked (``rows()``) only.
    """

    shares_msgids = True

    def __init__(
        self,
        dsn: str,
        *,
        key: JournalKey | None = None,
        key_file: str | Path | None = None,
        key_env: str | None = None,
        schema: str = "gongji",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,  # float-ok: seconds
        connect_timeout: int = 5,
        create: bool = True,
    ) -> None:
        psycopg = _psycopg()
        if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
            raise ConfigError(
                f"The journal schema name {str(schema)[:64]!r} is not a plain lower-case name.",
                next_step="Use letters, digits and _ (the default is 'gongji').",
            )
        try:
            parts = psycopg.conninfo.conninfo_to_dict(dsn)
        except (psycopg.ProgrammingError, TypeError):
            raise ConfigError(
                "The PostgreSQL journal's connection string is not understood.",
                next_step="Give a libpq string ('host=... dbname=...') or a postgresql:// URL.",
            ) from None
        self._password = str(parts.get("password") or "")
        place = f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}"
        self.where = (
            f"the PostgreSQL journal at {place}/{parts.get('dbname') or parts.get('user') or ''}"
            f" (schema {schema})"
        )
        self.schema = schema
        self._composed: dict[str, Any] = {}  # a statement's text -> it, for this schema
        super().__init__(
            key=key,
            key_source=KeySource(
                file=Path(key_file) if key_file is not None else None, env=key_env
            ),
            lease_seconds=lease_seconds,
        )
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._connection: Any = None  # psycopg.Connection, once connected
        try:
            stored = self._run(lambda db: self._open_schema(db, create))
            self._stored_salt = bytes.fromhex(stored["salt"])
            self._settle_key(stored.get("key_id"), may_create=create)
        except BaseException:
            self._abandon()
            raise

    # ---------------------------------------------------------------- opening

    def _sql(self, text: str) -> Any:
        composed = self._composed.get(text)
        if composed is None:
            psycopg = _psycopg()
            composed = psycopg.sql.SQL(text).format(s=psycopg.sql.Identifier(self.schema))
            self._composed[text] = composed
        return composed

    def _open_schema(self, db: psycopg.Connection[Any], create: bool) -> dict[str, str]:
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            found = db.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f'"{self.schema}".meta',)
            ).fetchone()
            if not (found and found[0]):
                if not create:
                    raise ConfigError(
                        f"{self.where_capitalised} does not exist.",
                        next_step="Check the DSN and the schema name in the profile's [journal].",
                    )
                exists = db.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
                ).fetchone()
                if exists is None:
                    db.execute(self._sql("CREATE SCHEMA {s}"))
                for statement in _TABLES:
                    db.execute(self._sql(statement))
                db.execute(self._sql(_MSGIDS))
                db.execute(
                    self._sql("INSERT INTO {s}.meta (name, value) VALUES (%s, %s), (%s, %s)"),
                    ("schema_version", str(SCHEMA_VERSION), "salt", secrets.token_hex(16)),
                )
            stored = {
                str(name): str(value)
                for name, value in db.execute(self._sql("SELECT name, value FROM {s}.meta"))
            }
            if stored.get("schema_version") == "1":  # an addition only: no row changes
                db.execute(self._sql(_MSGIDS))
                db.execute(
                    self._sql("UPDATE {s}.meta SET value = %s WHERE name = 'schema_version'"),
                    (str(SCHEMA_VERSION),),
                )
                stored["schema_version"] = str(SCHEMA_VERSION)
        version = stored.get("schema_version")
        if version != str(SCHEMA_VERSION) or "salt" not in stored:
            raise ConfigError(
                f"{self.where_capitalised} has schema version {version}; this gongji reads version "
                f"{SCHEMA_VERSION}. It was not changed.",
                next_step="Use the gongji version that wrote the journal, or a newer one that "
                "migrates it.",
            )
        return stored

    def _record_key_id(self, key_id: str) -> str:
        def record(db: psycopg.Connection[Any]) -> str:
            db.execute(
                self._sql(
                    "INSERT INTO {s}.meta (name, value) VALUES ('key_id', %s) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (key_id,),
            )
            found = db.execute(
                self._sql("SELECT value FROM {s}.meta WHERE name = 'key_id'")
            ).fetchone()
            return str(found[0]) if found else ""

        return self._run(record)

    # ---------------------------------------------------------------- storage

    def _write(self, columns: Columns, document: bytes, renew: bool, durable: bool) -> None:
        updated = columns.updated_at
        if updated is not None:
            updated = beijing.in_beijing(updated)  # stored as read back: Beijing time
        arguments = {
            "key": columns.key,
            "state": columns.state,
            "attempt": columns.attempt,
            "settlement_id": columns.settlement_id,
            "psn_no": columns.psn_no,
            "day": columns.day,
            "updated_at": updated,
            "document": document.decode("utf-8"),
            "renew": renew,
            "owner": self._holder.owner,
            "lease": float(self.lease_seconds),  # float-ok: seconds
        }
        query = self._sql(_PUT)

        def put(db: psycopg.Connection[Any]) -> None:
            db.execute(query, arguments)

        self._run(put if durable else _unflushed(put))

    def _select_one(self, column: str, value: str) -> str | None:
        assert column in ("key", "settlement_id")
        query = self._sql(
            f"SELECT document::text FROM {{s}}.entries WHERE {column} = %s "  # noqa: S608
            "ORDER BY updated_at DESC LIMIT 1"
        )
        found = self._run(lambda db: db.execute(query, (value,)).fetchone())
        return None if found is None else str(found[0])

    def _select(
        self, *, day: datetime.date | None = None, states: Iterable[str] | None = None
    ) -> list[bytes | str]:
        where: list[str] = []
        arguments: list[Any] = []
        if day is not None:
            where.append("day = %s")
            arguments.append(day)
        if states is not None:
            where.append("state = ANY(%s)")
            arguments.append(list(states))
        text = "SELECT document::text FROM {s}.entries"
        if where:
            text += " WHERE " + " AND ".join(where)
        query = self._sql(text + " ORDER BY updated_at, key")
        found = self._run(lambda db: db.execute(query, arguments).fetchall())
        return [str(row[0]) for row in found]

    def _count(self) -> int:
        query = self._sql("SELECT count(*) FROM {s}.entries")
        found = self._run(lambda db: db.execute(query).fetchone())
        return int(found[0]) if found else 0

    def _take_lease(self, key: str, holder: LeaseHolder) -> bool:
        arguments: dict[str, Any] = {
            "key": key,
            "owner": holder.owner,
            "host": holder.host,
            "pid": holder.pid,
            "process": holder.process,
            "lease": float(self.lease_seconds),  # float-ok: seconds
        }

        def take(db: psycopg.Connection[Any]) -> bool:
            if db.execute(self._sql(_TAKE), arguments).fetchone() is not None:
                return True
            found = db.execute(
                self._sql("SELECT owner, host, pid, process FROM {s}.leases WHERE key = %s"),
                (key,),
            ).fetchone()
            if found is None:  # released meanwhile: ask once more
                return db.execute(self._sql(_TAKE), arguments).fetchone() is not None
            current = LeaseHolder(owner=found[0], host=found[1], pid=found[2], process=found[3])
            if not provably_dead(current):
                return False
            # Only if the dead owner still holds it: another till may have been quicker.
            taken = db.execute(self._sql(_TAKE_FROM_DEAD), arguments | {"dead": current.owner})
            return taken.fetchone() is not None

        return self._run(take)

    def _drop_lease(self, key: str, owner: str) -> None:
        query = self._sql("DELETE FROM {s}.leases WHERE key = %s AND owner = %s")

        def drop(db: psycopg.Connection[Any]) -> None:
            db.execute(query, (key, owner))

        # A release lost with the server only keeps the key until the lease expires. The
        # taking of a lease is flushed: the server may crash while its holder runs on.
        self._run(_unflushed(drop))

    def _allocate_msgid(self, request: MsgidRequest, durable: bool) -> str:
        del durable  # every PostgreSQL commit waits for its WAL flush
        owner = request.owner
        highest_query, claim_query = self._sql(_HIGHEST_MSGID), self._sql(_CLAIM_MSGID)

        def allocate(db: psycopg.Connection[Any]) -> str:
            def claim(low: str, high: str) -> str | None:
                while True:
                    found = db.execute(highest_query, (low, high)).fetchone()
                    candidate = msgids.following(found[0] if found else None, low, high)
                    if candidate is None:
                        return None
                    taken = db.execute(claim_query, (candidate, owner.key, owner.purpose))
                    if taken.fetchone() is not None:
                        return candidate
                    # Another till committed it between the two statements: look again
                    # (each statement sees what was committed before it began).

            return msgids.allocate(request, claim)

        # Repeated after a broken connection, it allocates anew: an id the first attempt
        # may have taken is never handed out, which costs nothing.
        return self._run(allocate)

    def _msgid_owner(self, msgid: str) -> MsgidOwner | None:
        query = self._sql("SELECT key, purpose FROM {s}.msgids WHERE msgid = %s")
        found = self._run(lambda db: db.execute(query, (msgid,)).fetchone())
        return None if found is None else MsgidOwner(key=found[0], purpose=found[1])

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # ---------------------------------------------------------------- plumbing

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work`` on the connection; a broken connection is opened again and ``work``
        repeated once (every statement here is safe to repeat)."""
        psycopg = _psycopg()
        with self._lock:
            if self._closed:
                raise ConfigError(
                    f"{self.where_capitalised} is closed.", next_step="Open it again."
                )
            for attempt in (1, 2):
                try:
                    if self._connection is None or self._connection.closed:
                        self._connection = psycopg.connect(
                            self._dsn,
                            autocommit=True,
                            connect_timeout=self._connect_timeout,
                            application_name="gongji-journal",
                        )
                    return work(self._connection)
                except psycopg.OperationalError as error:
                    broken = self._connection is None or self._connection.broken
                    if attempt == 1 and broken and self._connection is not None:
                        self._disconnect()
                        continue
                    raise self._unavailable(error) from None
                except psycopg.Error as error:
                    raise self._unavailable(error) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _unavailable(self, error: Exception) -> JournalUnavailable:
        said = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        if self._password:
            said = said.replace(self._password, "***")
        state = getattr(error, "sqlstate", None)
        return JournalUnavailable(
            f"{self.where_capitalised} failed ({type(error).__name__}"
            + (f" {state}" if state else "")
            + (f": {said}" if said else "")
            + ")."
        )

    def __repr__(self) -> str:
        key = "present" if self.has_key else "missing"
        return f"PostgresJournal({self.where!r}, key={key})"
