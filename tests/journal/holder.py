"""Another till, in another process: opens the journal a test names and holds its keys.

``python -m tests.journal.holder SPEC`` (SPEC: JSON from ``Backend.spec()``) reads
commands from stdin, one a line, and answers each on stdout:

    acquire KEY  ->  acquired True|False
    release KEY  ->  released
    msgids N AT  ->  allocated MSGID (the last of N msgids of till 5 asked for at AT, ISO 8601)
    exit

``race`` is the body of the processes that race for one key from a barrier,
``allocate_msgids`` of those that ask for message ids at once.
"""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

from gongji.journal import Journal
from gongji.journal.postgres import PostgresJournal
from gongji.journal.sqlite import SqliteJournal

INSTITUTION = "H21020200001"


def open_journal(spec: dict[str, str]) -> Journal:
    if spec["kind"] == "sqlite":
        return SqliteJournal(spec["path"])
    return PostgresJournal(spec["dsn"], schema=spec["schema"], key_file=spec["key_file"])


def race(spec: dict[str, str], key: str, barrier: Any, results: Any) -> None:
    journal = open_journal(spec)
    barrier.wait()
    results.put(journal.acquire(key))
    barrier.wait()  # hold the lease until every racer has asked


def allocate_msgids(
    spec: dict[str, str], at: datetime.datetime, count: int, barrier: Any, results: Any
) -> None:
    """``count`` msgids of till 5 asked for one second, as fast as the journal gives them."""
    journal = open_journal(spec)
    barrier.wait()
    results.put([journal.allocate_msgid(INSTITUTION, at, 5) for _ in range(count)])
    journal.close()


def main() -> None:
    journal = open_journal(json.loads(sys.argv[1]))
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, key = line.strip().partition(" ")
        if command == "acquire":
            print(f"acquired {journal.acquire(key)}", flush=True)
        elif command == "release":
            journal.release(key)
            print("released", flush=True)
        elif command == "msgids":
            count, _, at = key.partition(" ")
            moment = datetime.datetime.fromisoformat(at)
            given = [journal.allocate_msgid(INSTITUTION, moment, 5) for _ in range(int(count))]
            print(f"allocated {given[-1]}", flush=True)
        else:
            break


if __name__ == "__main__":
    main()
