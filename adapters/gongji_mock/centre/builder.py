"""Datasets built in code: the people, accounts and bindings of a test, without a TOML file.

``DatasetBuilder`` writes the dataset format of docs/reference/dataset.md and loads it
with ``parse_dataset``, so a built dataset is checked exactly like a file (and
``to_toml()`` gives the file, for ``gongji mock serve --data``). Each call also checks
its own arguments at once, so a typo fails on the line of the test that made it.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from typing import Literal

from stdnum.cn import ric

from gongji.errors import InvalidInput
from gongji.identity import IdNumber
from gongji.model import Binding, Insurance
from gongji.money import Fen
from gongji_mock.centre.dataset import Dataset, parse_dataset

Sex = Literal["male", "female"]

__all__ = ["DatasetBuilder", "make_id_number"]


def make_id_number(
    *, born: str | datetime.date, sex: Sex = "female", region: str = "210202", serial: int = 0
) -> str:
    """A valid GB 11643 resident ID number: ``region`` (6 digits), birth date, an order
    code made from ``serial`` whose parity gives ``sex`` (odd: male), and the checksum.

    Distinct ``serial`` values (0-499) give distinct numbers for one birth date.
    """
    day = born if isinstance(born, datetime.date) else datetime.date.fromisoformat(born)
    if sex not in ("male", "female"):
        raise InvalidInput(f"Unknown sex {str(sex)[:20]!r}.", next_step="Use 'male' or 'female'.")
    if not 0 <= serial < 500:
        raise InvalidInput(
            f"Serial {serial} is outside 0-499: 500 numbers at most per birth date, sex and region.",
            next_step="Vary the birth date (born=) or the region, or give id_number=.",
        )
    order = 2 * serial + (1 if sex == "male" else 0)
    body = f"{region}{day:%Y%m%d}{order:03d}"
    number = body + ric.calc_check_digit(body + "0")
    return IdNumber(number).number  # the region and the date are checked here


class DatasetBuilder:
    """A mock dataset made in a test: ``person()`` adds someone and returns the ID number,
    ``bind()`` adds a mutual-aid binding, ``build()`` gives the ``Dataset`` a
    ``MockGateway`` runs on.

    ```python
    family = DatasetBuilder("demo-dalian")
    son = family.person(insurance="employee", balance=Fen(500_000), born="1985-03-17", sex="male")
    mother = family.person(insurance="resident", born="1958-09-12")
    family.bind(son, mother, "parent", limit=Fen(40_000))
    mock = MockGateway(family.build())
    ```
    """

    def __init__(self, policy: str = "demo-dalian") -> None:
        self.policy = policy
        self._people: list[dict[str, object]] = []
        self._bindings: list[dict[str, object]] = []
        # Serials already given per (birth date, sex, region): every made number differs.
        self._serials: Counter[tuple[datetime.date, str, str]] = Counter()

    def person(
        self,
        *,
        insurance: str = "employee",
        status: str = "active",
        region: str = "210202",
        retired: bool = False,
        balance: Fen | int | None = None,
        born: str | datetime.date = "1985-03-17",
        sex: Sex = "female",
        name: str = "测试",
        id_number: str | None = None,
        e_voucher: str | None = None,
    ) -> str:
        """Add a person; returns their ID number (generated from ``born``, ``sex`` and
        ``region`` unless ``id_number`` is given).

        ``insurance``: employee | resident | none; ``status``: active | suspended;
        ``region``: the 6-digit insurance region; ``balance``: the personal account in
        fen (an employee without one has a zero balance; a resident under a pack that
        gives residents no account may not have one); ``e_voucher``: a fixed e-voucher
        token that resolves to this person.
        """
        Insurance(insurance, status, region, retired)  # refuses an unknown kind, status, region
        if id_number is None:
            day = born if isinstance(born, datetime.date) else datetime.date.fromisoformat(born)
            self._serials[day, sex, region] += 1
            serial = self._serials[day, sex, region]
            id_number = make_id_number(born=day, sex=sex, region=region, serial=serial)
        row: dict[str, object] = {
            "id_number": IdNumber(id_number).number,
            "name": name,
            "insurance": insurance,
            "status": status,
            "region": region,
            "retired": retired,
        }
        if balance is not None:
            row["account_balance"] = Fen(balance).to_yuan()
        if e_voucher is not None:
            row["e_voucher"] = e_voucher
        self._people.append(row)
        return str(row["id_number"])

    def bind(
        self,
        owner: str,
        beneficiary: str,
        relation: str,
        *,
        status: str = "active",
        priority: int = 1,
        limit: Fen | int | None = None,
    ) -> None:
        """Let ``beneficiary`` spend from ``owner``'s personal account (family mutual aid).

        ``relation`` is the beneficiary's relation to the owner (spouse, parent, child,
        sibling, paternal_/maternal_grandparent, paternal_/maternal_grandchild);
        ``status``: pending | active | rejected | revoked; ``priority``: lower is drawn
        first; ``limit``: the per-transaction limit in fen, none by default.
        """
        binding = Binding(owner, beneficiary, relation, status, priority, limit)
        row: dict[str, object] = {
            "owner": binding.owner.number,
            "beneficiary": binding.beneficiary.number,
            "relation": relation,
            "status": status,
            "priority": priority,
        }
        if binding.per_transaction_limit is not None:
            row["per_transaction_limit"] = binding.per_transaction_limit.to_yuan()
        self._bindings.append(row)

    def to_toml(self) -> str:
        """The dataset as a file (docs/reference/dataset.md), e.g. for ``gongji mock serve --data``."""
        lines = [f"policy = {_toml(self.policy)}"]
        for table, rows in (("person", self._people), ("binding", self._bindings)):
            for row in rows:
                lines += ["", f"[[{table}]]"]
                lines += [f"{key} = {_toml(value)}" for key, value in row.items()]
        return "\n".join(lines) + "\n"

    def build(self) -> Dataset:
        """The dataset, checked as a whole like a file (a ``ConfigError`` names the entry)."""
        return parse_dataset(self.to_toml(), "built by DatasetBuilder")


def _toml(value: object) -> str:
    """A TOML value: JSON's strings and integers are TOML's; booleans are lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)
