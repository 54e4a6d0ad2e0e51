"""``gongji catalogue sync|find|map``: the national catalogue of a ``gongji.toml`` profile.

``sync`` downloads the catalogue's changes (1312) into the store beside the profile's
journal, with a progress bar on a terminal, and goes on where a cut-off sync stopped.
``find`` searches the store. ``map`` records the pharmacy's SKU mappings from a CSV file
and uploads those the centre does not have yet (3301).

Exit codes: 0 done, 1 ``map`` left mappings the centre refused, or an error (one line on
stderr, nothing changed at the centre by the step that failed).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gongji import clock as beijing
from gongji.cli.output import scrub
from gongji.cli.profile_args import profile_client, profile_option
from gongji.errors import InvalidInput

if TYPE_CHECKING:
    from gongji.catalogue import CatalogueEntry, CatalogueMapping, MappingReport, SyncReport

__all__ = ["MAPPING_COLUMNS", "add_commands", "read_mappings", "run"]

#: The columns of a mapping file; the first three are required, ``begins`` is today
#: when empty, ``list_type`` the national entry's.
MAPPING_COLUMNS = (
    "sku",
    "name",
    "national_code",
    "begins",
    "ends",
    "list_type",
    "approval_no",
    "dosage_form",
    "spec",
    "pack_spec",
    "unit",
    "memo",
)
_REQUIRED = ("sku", "name", "national_code")
#: A pharmacy's SKU list: tens of thousands of lines at most.
MAX_MAPPINGS = 100_000


def add_commands(commands: Any) -> None:
    """Add ``catalogue sync|find|map`` to the ``gongji`` command's subparsers."""
    profile = profile_option("the profile whose catalogue it is")
    catalogue = commands.add_parser(
        "catalogue", help="the national catalogue: download, find, map SKUs (1312, 3301)"
    )
    actions = catalogue.add_subparsers(dest="catalogue_command", required=True)
    sync = actions.add_parser(
        "sync",
        parents=[profile],
        help="download the catalogue's changes since the last sync (1312)",
        description="Download the records the centre changed since the last sync into the "
        "store beside the profile's journal, page by page; a sync that was cut off goes on "
        "from the next page. --full downloads the whole catalogue again.",
    )
    sync.add_argument("--full", action="store_true", help="download the whole catalogue again")
    sync.add_argument(
        "--page-size", type=int, default=None, metavar="N", help="records a page (default 500)"
    )
    find = actions.add_parser(
        "find", parents=[profile], help="find national codes by name or code in the store"
    )
    find.add_argument("text", help="part of a name, or the start of a national code")
    find.add_argument("--limit", type=int, default=20, metavar="N", help="at most N records")
    mapping = actions.add_parser(
        "map",
        parents=[profile],
        help="record SKU mappings from a CSV file and upload them (3301)",
        description="Read the CSV file's mappings (columns: "
        + ", ".join(MAPPING_COLUMNS)
        + "; sku, name and national_code required), check each against the local "
        "catalogue, and upload those the centre does not have yet. Without a file, upload "
        "what is still pending. Exit code 1 when the centre refused some.",
    )
    mapping.add_argument("file", nargs="?", type=Path, help="the mappings, CSV in UTF-8")


def run(args: argparse.Namespace, client_options: Mapping[str, Any]) -> int:
    """Run ``catalogue ...``; errors propagate (the caller prints them in one line)."""
    command = args.catalogue_command
    mappings = read_mappings(args.file) if command == "map" and args.file else []
    if command == "find" and not 1 <= args.limit <= 1_000:
        raise InvalidInput("--limit must be from 1 to 1000.", next_step="Give a smaller --limit.")
    with profile_client(args, client_options) as client:
        if command == "sync":
            options = {} if args.page_size is None else {"page_size": args.page_size}
            with _pages(show=not args.json) as progress:
                report = client.sync_catalogue(full=args.full, progress=progress, **options)
            _print_sync(report, args.json)
            return 0
        if command == "find":
            _print_entries(client.catalogue.find(args.text, limit=args.limit), args.json)
            return 0
        for found in mappings:
            client.catalogue.map(found)
        uploaded = client.upload_mappings()
    _print_mappings(uploaded, args.json)
    return 1 if uploaded.refused else 0


def read_mappings(path: Path) -> list[CatalogueMapping]:
    """The mappings of a CSV file with a header row; a bad row is refused by its line."""
    from gongji.catalogue import CatalogueMapping

    try:
        with path.open(encoding="utf-8-sig", newline="") as file:  # a BOM from a spreadsheet
            rows = list(csv.DictReader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InvalidInput(
            f"The mapping file {path} cannot be read ({getattr(error, 'strerror', None) or error}).",
            next_step="Give a CSV file in UTF-8 with a header row (docs/reference/cli.md).",
        ) from None
    if not rows:
        raise InvalidInput(
            f"The mapping file {path} has no mapping.",
            next_step="Write a header row, then one row per SKU.",
        )
    columns = set(rows[0])
    unknown = sorted(str(c) for c in columns - set(MAPPING_COLUMNS))
    missing = [c for c in _REQUIRED if c not in columns]
    if unknown or missing or len(rows) > MAX_MAPPINGS:
        what = f"unknown columns {', '.join(unknown)}" if unknown else ""
        what = what or (f"no column {', '.join(missing)}" if missing else "too many rows")
        raise InvalidInput(
            f"The mapping file {path} has {what}.",
            next_step=f"Use the columns {', '.join(MAPPING_COLUMNS)} "
            f"(at most {MAX_MAPPINGS} rows).",
        )
    today = beijing.today()  # the centre's day, whatever the OS zone
    found = []
    for line, row in enumerate(rows, start=2):
        values = {name: (row.get(name) or "").strip() for name in MAPPING_COLUMNS}
        if not all(values[name] for name in _REQUIRED):
            raise InvalidInput(
                f"{path} line {line}: sku, name and national_code are required.",
                next_step="Fill them in, or remove the line.",
            )
        found.append(
            CatalogueMapping(
                sku=values["sku"],
                name=values["name"],
                national_code=values["national_code"],
                list_type=values["list_type"],
                begins=_day(values["begins"], path, line) or today,
                ends=_day(values["ends"], path, line),
                approval_no=values["approval_no"],
                dosage_form=values["dosage_form"],
                spec=values["spec"],
                pack_spec=values["pack_spec"],
                unit=values["unit"],
                memo=values["memo"],
            )
        )
    return found


# ---------------------------------------------------------------- plumbing


def _day(text: str, path: Path, line: int) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{path} line {line}: {text[:20]!r} is not a day written YYYY-MM-DD.",
            next_step="Write dates like 2026-01-05.",
        ) from None


@contextlib.contextmanager
def _pages(*, show: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar of pages on stderr, on a terminal with ``rich`` installed."""
    if show and sys.stderr.isatty():
        try:
            from rich.console import Console
            from rich.progress import Progress
        except ImportError:  # the cli extra is not installed
            pass
        else:
            with Progress(console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("catalogue pages", total=None)
                yield lambda done, pages: bar.update(task, completed=done, total=pages)
            return
    yield None


def _entry_json(entry: CatalogueEntry) -> dict[str, Any]:
    return {
        "national_code": entry.national_code,
        "name": entry.name,
        "class": entry.coverage.value if entry.coverage else entry.class_code,
        "list_type": entry.list_type,
        "begins": entry.begins.isoformat() if entry.begins else None,
        "ends": entry.ends.isoformat() if entry.ends else None,
        "valid": entry.valid,
        "restricted": entry.restricted,
    }


def _print_sync(report: SyncReport, as_json: bool) -> None:
    version = report.version.strftime("%Y-%m-%d %H:%M:%S") if report.version else None
    if as_json:
        print(
            json.dumps(
                {
                    "pages": report.pages,
                    "records": report.entries,
                    "held": report.held,
                    "version": version,
                    "resumed_at_page": report.resumed_at_page,
                }
            )
        )
        return
    resumed = f", going on from page {report.resumed_at_page}" if report.resumed_at_page else ""
    print(
        f"Catalogue synced{resumed}: {report.entries} records in {report.pages} pages; "
        f"{report.held} held, version {version or 'none'}."
    )


def _print_entries(entries: list[CatalogueEntry], as_json: bool) -> None:
    rows = [_entry_json(entry) for entry in entries]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        print("No record found; `gongji catalogue sync` first if the store is empty.")
    for row in rows:
        state = "" if row["valid"] else "  (withdrawn)"
        dates = f"{row['begins'] or '-'}..{row['ends'] or ''}"
        print(f"{row['national_code']}  {row['class']}  {row['name']}  {dates}{state}")


def _print_mappings(report: MappingReport, as_json: bool) -> None:
    refused = [{"sku": sku, "reason": scrub(reason)} for sku, reason in report.refused]
    if as_json:
        print(
            json.dumps({"uploaded": list(report.uploaded), "refused": refused}, ensure_ascii=False)
        )
        return
    print(f"Mappings uploaded: {len(report.uploaded)}; refused by the centre: {len(refused)}.")
    for row in refused:
        print(f"  {row['sku']}: {row['reason']}")
