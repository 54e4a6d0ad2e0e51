"""Datasets: the people, accounts and bindings a mock centre knows, as a TOML file.

The format is documented in docs/reference/dataset.md. A dataset is checked as
a whole when it loads - every ID number against GB 11643, every relation and
status against its set, no duplicate person, no binding to somebody absent, no
account where the region's pack says that insurance has none - and the first
problem is reported with the file and line it is on.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import msgspec
from attrs import field, frozen

from gongji.errors import ConfigError, GongjiError
from gongji.identity import IdNumber
from gongji.model import (
    Binding,
    Category,
    ChronicDisease,
    Coverage,
    Insurance,
    InsuranceKind,
    Person,
    PersonalAccount,
    parse_enum,
)
from gongji.money import Fen
from gongji.policy import PolicyPack, get_policy


class _PersonRow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id_number: str
    name: str
    insurance: str
    status: str = "active"
    region: str
    retired: bool = False
    account_balance: str | None = None
    e_voucher: str | None = None
    insuinfo: list[_InsuinfoRow] = msgspec.field(default_factory=list)
    chronic: list[_DiseaseRow] = msgspec.field(default_factory=list)


class _DiseaseRow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A chronic or special disease the centre registered for the person (5301)."""

    code: str
    name: str
    begins: datetime.date | None = None
    ends: datetime.date | None = None


class _BindingRow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    owner: str
    beneficiary: str
    relation: str
    status: str
    priority: int = 1
    per_transaction_limit: str | None = None


class _InsuinfoRow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Another insurance of a person (a 330 supplement, an old suspended 390), answered by
    1101 before the person's main entry."""

    insutype: str
    status: str = "active"
    region: str | None = None


class _CatalogueRow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    name: str = ""
    coverage: str = "A"
    category: str = "drug"


class _DatasetFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    policy: str
    extensions: bool = False
    person: list[_PersonRow] = msgspec.field(default_factory=list)
    binding: list[_BindingRow] = msgspec.field(default_factory=list)
    catalogue: list[_CatalogueRow] = msgspec.field(default_factory=list)


#: insutype codes a dataset may give a person's other insurances, and statuses (psn_insu_stas).
INSUTYPES = ("310", "320", "330", "340", "390", "391", "392")
INSU_STATUS = {"active": "1", "suspended": "2", "terminated": "4", "none": "0"}


@frozen
class OtherInsurance:
    """An ``insuinfo`` entry beside the person's main insurance."""

    insutype: str
    status: str  # psn_insu_stas
    region: str


@frozen
class CatalogueItem:
    """What the centre's catalogue says of a national code: its class and category."""

    code: str
    name: str
    coverage: Coverage
    category: Category


@frozen
class Dataset:
    """What the mock centre starts from."""

    policy: PolicyPack
    people: Mapping[IdNumber, Person]
    bindings: tuple[Binding, ...]
    #: Fixed e-voucher tokens for tests (token -> holder); the mock issues others on request.
    e_vouchers: Mapping[str, IdNumber]
    #: The catalogue, by national code (``med_list_codg``). A code it does not list is a
    #: class-A drug, unless the till says otherwise through gongji's extensions.
    catalogue: Mapping[str, CatalogueItem] = field(factory=dict)
    #: Each person's other insurances, answered by 1101 before the main one.
    other_insurance: Mapping[IdNumber, tuple[OtherInsurance, ...]] = field(factory=dict)
    #: The national endpoint reads gongji's extensions (``gongji_*``, X101); off, it is strict.
    extensions: bool = False
    #: Each person's registered chronic or special diseases (5301), with their dates.
    chronic_diseases: Mapping[IdNumber, tuple[ChronicDisease, ...]] = field(factory=dict)


_PATH = re.compile(r"`\$\.(person|binding|catalogue)\[(\d+)\](?:\.(\w+))?`")


def load_dataset(source: Path | Traversable | str) -> Dataset:
    """Read and check a dataset file; ``ConfigError`` naming the file and line on any problem."""
    path = Path(source) if isinstance(source, str) else source
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Dataset {path.name} cannot be read ({exc.strerror}).",
            next_step="Check the path given to MockGateway.load() or --data.",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Dataset {path.name} is not UTF-8 text (byte {exc.start}).",
            next_step="Save the dataset file as UTF-8.",
        ) from None
    return parse_dataset(text, path.name)


def demo_dataset() -> Dataset:
    """The Zhang family of seed 000, in Dalian."""
    return load_dataset(files("gongji_mock.centre") / "datasets" / "zhang-family.toml")


def parse_dataset(text: str, name: str = "<dataset>") -> Dataset:
    where = _Locator(text, name)
    try:
        raw = tomllib.loads(text)
    # A TOMLDecodeError, or an integer past 4300 digits (a plain ValueError).
    except (ValueError, RecursionError) as exc:
        raise ConfigError(
            f"Dataset {name}: TOML syntax error: {exc}.",
            next_step="Fix the TOML at the line shown.",
        ) from None
    try:
        rows = msgspec.convert(raw, type=_DatasetFile)
    except msgspec.ValidationError as exc:
        match = _PATH.search(str(exc))
        unknown = re.search(r"unknown field `(\w+)`", str(exc))
        key = (
            match.group(3) if match and match.group(3) else (unknown.group(1) if unknown else None)
        )
        line = where.line(match.group(1), int(match.group(2)), key) if match else where.top()
        detail = _PATH.sub("", str(exc)).replace(" - at ", "").strip()
        raise ConfigError(
            f"{line}: {detail}.", next_step="See docs/reference/dataset.md for the format."
        ) from None
    policy = get_policy(rows.policy)

    people: dict[IdNumber, Person] = {}
    e_vouchers: dict[str, IdNumber] = {}
    other_insurance: dict[IdNumber, tuple[OtherInsurance, ...]] = {}
    chronic: dict[IdNumber, tuple[ChronicDisease, ...]] = {}
    for index, row in enumerate(rows.person):
        with where.problem("person", index):
            person = _person(row, policy)
            if person.id in people:
                raise ConfigError(
                    f"person {person.id.masked} appears twice.",
                    next_step="Keep one [[person]] entry per ID number.",
                )
            people[person.id] = person
            if row.insuinfo:
                other_insurance[person.id] = tuple(_other(entry, row) for entry in row.insuinfo)
            if row.chronic:
                chronic[person.id] = tuple(_chronic(entry) for entry in row.chronic)
            if row.e_voucher is not None:
                if row.e_voucher in e_vouchers:
                    raise ConfigError(
                        "this e_voucher token is already given to someone else.",
                        next_step="Give each person their own token.",
                    )
                e_vouchers[row.e_voucher] = person.id

    bindings: list[Binding] = []
    for index, brow in enumerate(rows.binding):
        with where.problem("binding", index):
            limit = (
                None
                if brow.per_transaction_limit is None
                else Fen.from_yuan(brow.per_transaction_limit)
            )
            binding = Binding(
                brow.owner, brow.beneficiary, brow.relation, brow.status, brow.priority, limit
            )
            for role, number in (("owner", binding.owner), ("beneficiary", binding.beneficiary)):
                if number not in people:
                    raise ConfigError(
                        f"the binding's {role} {number.masked} is not a [[person]] of this dataset.",
                        next_step="Add that person, or correct the ID number.",
                    )
            bindings.append(binding)
    catalogue: dict[str, CatalogueItem] = {}
    for index, crow in enumerate(rows.catalogue):
        with where.problem("catalogue", index):
            catalogue[crow.code] = CatalogueItem(
                crow.code,
                crow.name,
                parse_enum(Coverage, crow.coverage, "coverage"),
                parse_enum(Category, crow.category, "category"),
            )
    return Dataset(
        policy=policy,
        people=people,
        bindings=tuple(bindings),
        e_vouchers=e_vouchers,
        catalogue=catalogue,
        other_insurance=other_insurance,
        extensions=rows.extensions,
        chronic_diseases=chronic,
    )


def _other(entry: _InsuinfoRow, row: _PersonRow) -> OtherInsurance:
    if entry.insutype not in INSUTYPES or entry.status not in INSU_STATUS:
        raise ConfigError(
            f"an insuinfo entry has insutype {entry.insutype[:6]!r} and status {entry.status[:12]!r}.",
            next_step=f"Use an insutype of {', '.join(INSUTYPES)} and a status of "
            f"{', '.join(INSU_STATUS)}.",
        )
    region = entry.region or row.region
    if len(region) != 6 or not region.isdigit():
        raise ConfigError(
            "an insuinfo entry's region is not a 6-digit code.",
            next_step="Write the region of insurance as 6 digits, e.g. 210200.",
        )
    return OtherInsurance(entry.insutype, INSU_STATUS[entry.status], region)


def _chronic(entry: _DiseaseRow) -> ChronicDisease:
    if entry.begins is not None and entry.ends is not None and entry.ends < entry.begins:
        raise ConfigError(
            f"the registration of chronic disease {entry.code[:30]!r} ends before it begins.",
            next_step="Write begins on or before ends (dates yyyy-MM-dd).",
        )
    return ChronicDisease(code=entry.code, name=entry.name, begins=entry.begins, ends=entry.ends)


def _person(row: _PersonRow, policy: PolicyPack) -> Person:
    insurance = Insurance(row.insurance, row.status, row.region, row.retired)
    account = None
    if row.account_balance is not None:
        if insurance.kind not in policy.personal_account_kinds:
            raise ConfigError(
                f"{insurance.kind.value} insurance has no personal account under {policy.id}, but account_balance is set.",
                next_step="Remove account_balance for this person, or make the insurance employee.",
            )
        account = PersonalAccount(Fen.from_yuan(row.account_balance))
    elif (
        insurance.kind is InsuranceKind.EMPLOYEE and insurance.kind in policy.personal_account_kinds
    ):
        account = PersonalAccount(Fen(0))
    return Person(row.id_number, row.name, insurance, account)


class _Locator:
    """Finds the line of the n-th ``[[table]]`` entry (and a key in it) in the raw text,
    because ``tomllib`` keeps no positions."""

    def __init__(self, text: str, name: str) -> None:
        self.lines = text.splitlines()
        self.name = name

    def top(self) -> str:
        return f"Dataset {self.name}"

    def line(self, table: str, index: int, key: str | None = None) -> str:
        headers = [n for n, line in enumerate(self.lines) if line.strip() == f"[[{table}]]"]
        if index >= len(headers):
            return f"Dataset {self.name}, [[{table}]] #{index + 1}"
        number = headers[index]
        if key is not None:
            end = next(
                (
                    h
                    for h in range(number + 1, len(self.lines))
                    if self.lines[h].lstrip().startswith("[")
                ),
                len(self.lines),
            )
            for n in range(number + 1, end):
                if re.match(rf"\s*{re.escape(key)}\s*=", self.lines[n]):
                    number = n
                    break
        return f"Dataset {self.name}, line {number + 1} ([[{table}]] #{index + 1})"

    def problem(self, table: str, index: int) -> _Problem:
        return _Problem(self, table, index)


class _Problem:
    """Re-raises any GongjiError inside a row as a ConfigError naming the row's line."""

    def __init__(self, locator: _Locator, table: str, index: int) -> None:
        self.locator, self.table, self.index = locator, table, index

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _tb: Any
    ) -> None:
        if isinstance(error, GongjiError):
            where = self.locator.line(self.table, self.index)
            message = error.message[:1].lower() + error.message[1:]
            raise ConfigError(f"{where}: {message}", next_step=error.next_step) from None
