"""Datasets load whole and sound, or are refused with the file and line of the first problem."""

from __future__ import annotations

import re

import pytest

from gongji import ConfigError, Fen
from gongji_mock.centre.dataset import demo_dataset, parse_dataset
from tests.conftest import OWNER, PATIENT

HEAD = 'policy = "liaoning-dalian-2025"\n'
SON = f'[[person]]\nid_number = "{OWNER}"\nname = "张伟"\ninsurance = "employee"\nregion = "210202"\naccount_balance = "5000.00"\n'
MOTHER = f'[[person]]\nid_number = "{PATIENT}"\nname = "王秀兰"\ninsurance = "resident"\nregion = "210202"\n'
BINDING = f'[[binding]]\nowner = "{OWNER}"\nbeneficiary = "{PATIENT}"\nrelation = "parent"\nstatus = "active"\n'


def refused_at(text: str) -> tuple[int, str]:
    with pytest.raises(ConfigError) as caught:
        parse_dataset(text, "family.toml")
    message = str(caught.value)
    match = re.search(r"family\.toml, line (\d+)", message)
    assert match, message
    return int(match.group(1)), message


def test_demo_dataset_is_seed_000s_zhang_family() -> None:
    dataset = demo_dataset()
    assert dataset.policy.id == "demo-dalian"
    assert len(dataset.people) == 7
    son, mother = dataset.people[OWNER], dataset.people[PATIENT]
    assert son.account is not None
    assert son.account.balance == Fen(500_000)
    assert mother.account is None
    assert {b.status.value for b in dataset.bindings} == {"active", "pending", "revoked"}
    assert dataset.e_vouchers["demo-token-mother"] == PATIENT


def test_sound_dataset_loads() -> None:
    dataset = parse_dataset(HEAD + SON + MOTHER + BINDING)
    assert dataset.bindings[0].owner == OWNER


def test_bad_id_number_is_refused_naming_its_line() -> None:
    line, message = refused_at(HEAD + SON + MOTHER.replace(PATIENT, PATIENT[:-1] + "0"))
    assert line == 8  # the second [[person]]
    assert "check digit" in message
    assert PATIENT[:-1] + "0" not in message  # masked even here


def test_unknown_relation_is_refused_naming_its_line() -> None:
    line, message = refused_at(HEAD + SON + MOTHER + BINDING.replace('"parent"', '"cousin"'))
    assert line == 13  # the [[binding]] header
    assert "cousin" in message


def test_duplicate_person_is_refused_naming_the_second_entry() -> None:
    line, message = refused_at(HEAD + SON + SON)
    assert line == 8
    assert "twice" in message


def test_binding_to_nobody_is_refused_naming_its_line() -> None:
    line, message = refused_at(HEAD + SON + BINDING)
    assert line == 8
    assert "beneficiary" in message


def test_resident_with_an_account_is_refused_where_the_pack_says_they_have_none() -> None:
    line, message = refused_at(HEAD + SON + MOTHER + 'account_balance = "100.00"\n')
    assert line == 8
    assert "no personal account" in message


def test_unknown_key_is_refused_naming_the_key_line() -> None:
    line, message = refused_at(
        HEAD + SON.replace('region = "210202"\n', 'region = "210202"\nsalary = "9000"\n')
    )
    assert line == 7
    assert "salary" in message


def test_balance_with_three_decimals_is_refused_not_rounded() -> None:
    line, message = refused_at(HEAD + SON.replace("5000.00", "5000.005"))
    assert line == 2
    assert "more than two decimals" in message
