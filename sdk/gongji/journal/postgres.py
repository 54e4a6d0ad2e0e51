"""``PostgresJournal``: one journal shared by the tills of a chain (psycopg 3, extra ``postgres``).

The same rows as ``SqliteJournal`` in a schema of their own (``gongji`` by default).
Writes go through the group commit (``gongji.journal.commits``): the writes queued
together are one transaction, durable on the server when ``put`` returns; a batch of
nothing but ``put(durable=False)`` and releases commits without waiting for the
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
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from gongji import clock as beijing
from gongji.errors import ConfigError, GongjiError, JournalUnavailable
from gongji.journal import msgids
from gongji.journal.allocation import Work
from gongji.journal.codec import Columns
from gongji.journal.commits import Job
from gongji.journal.durable import SCHEMA_VERSION, DurableJournal, OwnerRow
from gongji.journal.entry import settlement_taken
from gongji.journal.lease import DEFAULT_LEASE_SECONDS, LeaseHolder, lease_lost, provably_dead
from gongji.journal.msgids import Block, MsgidOwner, MsgidRequest
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

_RESERVE = "INSERT INTO {s}.msgids (msgid, key, purpose) VALUES (%s, '', %s)"

#: What the ids handed out were for; a row replaces the block's reservation of its id.
_OWNERS = """
INSERT INTO {s}.msgids AS given (msgid, key, purpose)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
ON CONFLICT (msgid) DO UPDATE SET key = excluded.key, purpose = excluded.purpose
WHERE given.purpose = ''
"""

#: Written only while the writer holds the lease when ``held`` (its row locked to the
#: commit: a till taking it over waits, then reads what this wrote) and only when no other
#: key's entry holds the settlement; a row back when written, none when refused.
_PUT = """
WITH renewed AS (
    UPDATE {s}.leases SET expires_at = now() + make_interval(secs => %(lease)s)
    WHERE key = %(key)s AND owner = %(owner)s AND %(renew)s
), held AS (
    SELECT 1 FROM {s}.leases WHERE key = %(key)s AND owner = %(owner)s FOR UPDATE
)
INSERT INTO {s}.entries (key, state, attempt, settlement_id, psn_no, day, updated_at, document)
SELECT %(key)s, %(state)s, %(attempt)s, %(settlement_id)s, %(psn_no)s, %(day)s,
        %(updated_at)s, %(document)s::jsonb
WHERE (NOT %(held)s OR EXISTS (SELECT 1 FROM held))
AND NOT EXISTS (
    SELECT 1 FROM {s}.entries WHERE settlement_id = %(settlement_id)s AND key <> %(key)s
)
ON CONFLICT (key) DO UPDATE SET
    state = excluded.state, attempt = excluded.attempt, settlement_id = excluded.settlement_id,
    psn_no = excluded.psn_no, day = excluded.day, updated_at = excluded.updated_at,
    document = excluded.document
RETURNING 1
"""
_ANOTHERS = "SELECT key FROM {s}.entries WHERE settlement_id = %s AND key <> %s"

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


class PostgresJournal(DurableJournal):
    """The journal in a PostgreSQL schema, shared by every till whose configuration names it.

    ``dsn`` is a libpq connection string or URL (it may hold a password: it is never shown;
    errors name the host, port and database). The key comes from ``key`` itself,
    ``key_file`` (created, 0600, by the first till that opens a new journal with it) or
    ``key_env``; without one the journal can be listed masked (``rows()``) only.
    """

    shares_msgids = True
    #: The server may crash while a lease's holder runs on: taking one is flushed.
    leases_durable = True

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
        self._connection_lock = threading.RLock()
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
            if stored.get("schema_version") in ("1", "2"):  # additions only: no row changes
                if stored["schema_version"] == "1":
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

    def _batch(self, jobs: list[Job], owners: list[OwnerRow], durable: bool) -> None:
        library = _psycopg()
        owner_rows = self._sql(_OWNERS)

        def batch(db: psycopg.Connection[Any]) -> None:
            for job in jobs:  # a batch repeated after a broken connection starts afresh
                job.value, job.error = None, None
            # One job (a till's own sale): BEGIN, its statements and COMMIT pipelined.
            alone = len(jobs) == 1 and library.Pipeline.is_supported()
            with db.pipeline() if alone else contextlib.nullcontext(), db.transaction():
                if not durable:  # recovery redoes it: the commit need not wait for the flush
                    db.execute("SET LOCAL synchronous_commit TO OFF")
                if owners:
                    db.execute(owner_rows, [list(column) for column in zip(*owners, strict=True)])
                if len(jobs) == 1:  # its failure is the transaction's
                    jobs[0].value = jobs[0].work(db)
                    return
                for job in jobs:  # each apart: one refused leaves the others' writes
                    try:
                        with db.transaction():
                            job.value = job.work(db)
                    except library.OperationalError:
                        raise
                    except library.Error as error:
                        job.error = self._unavailable(error)
                    except GongjiError as error:
                        job.error = error

        self._run(batch)

    def _put(self, columns: Columns, document: bytes, *, renew: bool, held: bool) -> Work:
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
        query, anothers = self._sql(_PUT), self._sql(_ANOTHERS)
        arguments["held"] = held

        def put(db: psycopg.Connection[Any]) -> None:
            # One statement, its row fetched (a pipeline's rowcount is not known before its
            # results are); none back: say why.
            if db.execute(query, arguments).fetchone() is not None:
                return
            holder = db.execute(anothers, (columns.settlement_id, columns.key)).fetchone()
            if holder is not None:
                raise settlement_taken(columns.settlement_id or "", str(holder[0]))
            raise lease_lost(columns.key)

        return put

    def _document(self, db: psycopg.Connection[Any], key: str) -> str | None:
        query = self._sql("SELECT document::text FROM {s}.entries WHERE key = %s")
        found = db.execute(query, (key,)).fetchone()
        return None if found is None else str(found[0])

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

    def _take_lease(self, key: str, holder: LeaseHolder) -> Work:
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

        return take

    def _drop_lease(self, key: str, owner: str) -> Work:
        query = self._sql("DELETE FROM {s}.leases WHERE key = %s AND owner = %s")

        def drop(db: psycopg.Connection[Any]) -> None:
            db.execute(query, (key, owner))

        return drop

    def _reserve(self, request: MsgidRequest, size: int) -> Work:
        highest_query, reserve_query = self._sql(_HIGHEST_MSGID), self._sql(_RESERVE)
        lock = f"{self.schema} msgids {request.institution}"

        def reserve(db: psycopg.Connection[Any]) -> Block:
            # The institution's reservations one at a time, every till's: each sees what
            # the one before it reserved (read committed: a statement sees earlier commits).
            db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock,))

            def claim(low: str, high: str) -> Block | None:
                found = db.execute(highest_query, (low, high)).fetchone()
                first = msgids.following(found[0] if found else None, low, high)
                if first is None:
                    return None
                end = msgids.block_end(first, high, size)
                db.execute(reserve_query, (end, msgids.RESERVED))
                return Block(next=first, high=end)

            return msgids.allocate(request, claim)

        # Repeated after a broken connection, it reserves anew: a block the first attempt
        # may have reserved is never handed out, which costs nothing.
        return reserve

    def _give_back(self, blocks: list[Block]) -> Work:
        query = self._sql("DELETE FROM {s}.msgids WHERE msgid = ANY(%s) AND purpose = %s")

        def give_back(db: psycopg.Connection[Any]) -> None:
            if blocks:
                db.execute(query, ([block.high for block in blocks], msgids.RESERVED))

        return give_back

    def _msgid_owner(self, msgid: str) -> MsgidOwner | None:
        query = self._sql("SELECT key, purpose FROM {s}.msgids WHERE msgid = %s")
        found = self._run(lambda db: db.execute(query, (msgid,)).fetchone())
        if found is None or found[1] == msgids.RESERVED:
            return None
        return MsgidOwner(key=found[0], purpose=found[1])

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # ---------------------------------------------------------------- plumbing

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work`` on the connection; a broken connection is opened again and ``work``
        repeated once (every statement here is safe to repeat)."""
        psycopg = _psycopg()
        with self._connection_lock:
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
