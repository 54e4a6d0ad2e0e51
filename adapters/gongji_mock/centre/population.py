"""A generated population for the mock centre: many families, made up but valid, from a seed.

The demo dataset is one family; a soak run or a randomized test wants hundreds, with every
relation of the national set, bindings in every state, people with and without accounts,
balances down to a few fen, per-transaction limits, and relatives insured in the same
city, elsewhere in the province, in the cross-province pilot (Gansu) and outside it.

Each family is four generations around one owner (an employee, usually retired):

    his father            his wife's mother
        |                      |
    the owner  ==  his wife     his sibling
        |                |
    his son          his daughter
        |                |
    son's child      daughter's child

and its bindings name the beneficiary's relation to the owner of the account, as the
dataset format does. Birth dates keep every relation plausible (R4), so a refusal comes
from a binding's state, region, limit or the policy, not from a badly made family.

The population is produced as dataset TOML (``population_toml``) and read back with the
dataset loader, so it is checked like any dataset file and can be served
(``gongji mock serve --data``). The same seed gives the same text, byte for byte.
"""

from __future__ import annotations

import random

from stdnum.cn import ric

from gongji_mock.centre.dataset import Dataset, parse_dataset

#: Where people live and are insured: Dalian, Benxi (same province), Lanzhou (Gansu, the
#: cross-province pilot of the national pack) and Beijing (another province, no pilot).
REGIONS = ("210202", "210502", "620102", "110105")
_REGION_WEIGHTS = (60, 15, 15, 10)
BINDING_STATES = ("active", "pending", "rejected", "revoked")
_STATE_WEIGHTS = (70, 10, 10, 10)
RELATIONS = (
    "spouse",
    "parent",
    "child",
    "sibling",
    "paternal_grandparent",
    "maternal_grandparent",
    "paternal_grandchild",
    "maternal_grandchild",
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华建国兰桂雨"

# (owner, beneficiary, relation of the beneficiary to the owner)
_BINDINGS = (
    ("owner", "wife", "spouse"),
    ("owner", "father", "parent"),
    ("owner", "daughter", "child"),
    ("owner", "sibling", "sibling"),
    ("owner", "sons_child", "paternal_grandchild"),
    ("owner", "daughters_child", "maternal_grandchild"),
    ("son", "father", "paternal_grandparent"),
    ("son", "wifes_mother", "maternal_grandparent"),
    ("son", "sons_child", "child"),
    ("daughter", "daughters_child", "child"),
    ("wife", "wifes_mother", "parent"),
    ("sibling", "father", "parent"),
)


class _Family:
    def __init__(self, rng: random.Random, used: set[str]) -> None:
        self.rng = rng
        self.used = used
        self.home = rng.choices(REGIONS, _REGION_WEIGHTS)[0]
        self.surname = rng.choice(_SURNAMES)

    def id_number(self, year: int, male: bool, region: str) -> str:
        """A GB 11643 number: region, birth date, a sequence whose last digit is odd for a
        man and even for a woman, and the checksum (python-stdnum)."""
        rng = self.rng
        while True:
            birth = f"{year:04d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            sequence = rng.randrange(0, 1000, 2) + (1 if male else 0)
            if sequence > 999:
                continue
            body = f"{region}{birth}{sequence:03d}"
            number = body + ric.calc_check_digit(body + "0")  # it ignores the last digit
            if number not in self.used:
                self.used.add(number)
                return number

    def name(self, surname: str | None = None) -> str:
        given = "".join(self.rng.choice(_GIVEN) for _ in range(self.rng.randint(1, 2)))
        return (surname or self.rng.choice(_SURNAMES)) + given


def _balance(rng: random.Random) -> str | None:
    """An employee's personal account: empty, nearly empty, ordinary or large."""
    kind = rng.choices(("none", "near_zero", "ordinary", "large"), (10, 25, 50, 15))[0]
    if kind == "none":
        return None  # the dataset gives an employee without a balance an empty account
    fen = {
        "near_zero": rng.randint(1, 999),
        "ordinary": rng.randint(5_000, 300_000),
        "large": rng.randint(500_000, 2_000_000),
    }[kind]
    return f"{fen // 100}.{fen % 100:02d}"


def _person_toml(row: dict[str, object]) -> str:
    lines = ["[[person]]"]
    for key, value in row.items():
        if value is None:
            continue
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines)


def population_toml(seed: int, *, families: int = 50, policy: str = "national-2025") -> str:
    """The dataset file of ``families`` generated families; the same seed, the same text.

    The first family has every binding of the layout, their states taking each value in
    turn, so every relation and every binding state appears whatever the seed.
    """
    if families < 1:
        raise ValueError("A population needs at least one family.")
    rng = random.Random(seed)  # noqa: S311 - made-up test data, not security
    used: set[str] = set()
    people: list[str] = []
    bindings: list[str] = []
    for number in range(families):
        family = _Family(rng, used)
        owner_year = rng.randint(1950, 1960)  # the youngest grandchild is born by 2025
        years = {
            "father": owner_year - rng.randint(24, 32),
            "owner": owner_year,
            "wife": owner_year + rng.randint(0, 4),
            "sibling": owner_year + rng.choice((-4, -2, 2, 4)),
            "son": owner_year + rng.randint(26, 30),
            "daughter": owner_year + rng.randint(28, 33),
        }
        years["wifes_mother"] = years["wife"] - rng.randint(22, 30)
        years["sons_child"] = years["son"] + rng.randint(25, 32)
        years["daughters_child"] = years["daughter"] + rng.randint(24, 30)
        male = {"father": True, "owner": True, "wife": False, "son": True, "daughter": False}
        male |= {"wifes_mother": False, "sibling": rng.random() < 0.5}
        male |= {"sons_child": rng.random() < 0.5, "daughters_child": rng.random() < 0.5}
        ids: dict[str, str] = {}
        for role, year in years.items():
            moved = role in ("sibling", "daughter", "wifes_mother") and rng.random() < 0.4
            region = rng.choices(REGIONS, _REGION_WEIGHTS)[0] if moved else family.home
            ids[role] = family.id_number(year, male[role], region)
            employee = role in ("owner", "son") or (
                role in ("wife", "sibling", "daughter") and rng.random() < 0.7
            )
            insurance = "employee" if employee else "resident"
            if role not in ("owner", "son") and rng.random() < 0.04:
                insurance, employee = "none", False  # not insured: R3 refuses mutual aid
            status = "suspended" if rng.random() < 0.05 else "active"
            people.append(
                _person_toml(
                    {
                        "id_number": ids[role],
                        "name": family.name(family.surname if male[role] else None),
                        "insurance": insurance,
                        "status": status,
                        "region": region,
                        "retired": employee and year <= 1966,  # 60 or older in 2026
                        "account_balance": _balance(rng) if employee else None,
                    }
                )
            )
        priorities: dict[str, int] = {}
        for index, (owner, beneficiary, relation) in enumerate(_BINDINGS):
            if number == 0:
                state = BINDING_STATES[index % len(BINDING_STATES)]
            elif rng.random() < 0.7:
                state = rng.choices(BINDING_STATES, _STATE_WEIGHTS)[0]
            else:
                continue
            priorities[beneficiary] = priorities.get(beneficiary, 0) + 1
            limit = None
            if rng.random() < 0.4:
                fen = rng.choice((1_000, 5_000, 20_000, 50_000)) + rng.randint(0, 99)
                limit = f"{fen // 100}.{fen % 100:02d}"
            row = [
                "[[binding]]",
                f'owner = "{ids[owner]}"',
                f'beneficiary = "{ids[beneficiary]}"',
                f'relation = "{relation}"',
                f'status = "{state}"',
                f"priority = {priorities[beneficiary]}",
            ]
            if limit is not None:
                row.append(f'per_transaction_limit = "{limit}"')
            bindings.append("\n".join(row))
    header = (
        f"# Generated by gongji_mock.centre.population (seed {seed}, {families} families): "
        "made-up people, valid ID numbers.\n"
        f'policy = "{policy}"\n'
    )
    return header + "\n\n" + "\n\n".join(people + bindings) + "\n"


def generate_population(seed: int, *, families: int = 50, policy: str = "national-2025") -> Dataset:
    """The population of ``population_toml``, loaded and checked as a dataset."""
    return parse_dataset(
        population_toml(seed, families=families, policy=policy), f"population-{seed}"
    )
