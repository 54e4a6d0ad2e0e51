"""The generated population (gongji_mock.centre.population): a sound dataset, the same for a seed,
covering every binding state, every relation and every kind of region and account."""

from __future__ import annotations

import pytest

from gongji.model import BindingStatus, InsuranceKind, Relation
from gongji.policy import get_policy
from gongji_mock import MockGateway
from gongji_mock.centre.dataset import parse_dataset
from gongji_mock.centre.population import REGIONS, generate_population, population_toml


@pytest.mark.parametrize("seed", [0, 1, 20261123])
def test_every_binding_state_and_every_relation_appears(seed: int) -> None:
    for families in (1, 30):
        dataset = generate_population(seed, families=families)
        assert {b.status for b in dataset.bindings} == set(BindingStatus)
        assert {b.relation for b in dataset.bindings} == set(Relation)


def test_the_same_seed_gives_the_same_population_and_another_seed_another() -> None:
    assert population_toml(7, families=20) == population_toml(7, families=20)
    assert population_toml(7, families=20) != population_toml(8, families=20)


def test_the_population_loads_as_a_dataset_file_and_a_mock_serves_it() -> None:
    text = population_toml(3, families=40)
    dataset = parse_dataset(text, "population.toml")  # every ID number checked (GB 11643)
    assert len(dataset.people) == 40 * 9
    mock = MockGateway(dataset)
    assert mock.check() == []
    owner = next(b.owner for b in dataset.bindings)
    assert mock.balance(owner.number) == dataset.people[owner].account.balance  # type: ignore[union-attr]


def test_people_with_and_without_accounts_near_zero_balances_limits_and_every_region() -> None:
    dataset = generate_population(11, families=60)
    people = list(dataset.people.values())
    accounts = [p.account.balance for p in people if p.account is not None]
    assert any(p.account is None for p in people)  # residents and the uninsured
    assert {p.insurance.kind for p in people} == set(InsuranceKind)
    assert any(0 < balance < 1_000 for balance in accounts)  # under ten yuan
    assert any(balance == 0 for balance in accounts)
    assert any(b.per_transaction_limit is not None for b in dataset.bindings)
    assert any(b.per_transaction_limit is None for b in dataset.bindings)
    assert {p.insurance.region for p in people} == set(REGIONS)
    assert any(p.insurance.status.value == "suspended" for p in people)


def test_every_binding_is_plausible_by_birth_dates_so_r4_refuses_none_for_age() -> None:
    dataset = generate_population(5, families=80)
    # The national pack sets no age gap (no source gives one); the demo's are stricter.
    rules = get_policy("demo-dalian").plausibility
    for binding in dataset.bindings:
        generations = binding.relation.generations
        if not generations:
            continue
        elder, younger = (
            (binding.beneficiary, binding.owner)
            if generations > 0
            else (binding.owner, binding.beneficiary)
        )
        need = rules.parent_min_years if abs(generations) == 1 else rules.grandparent_min_years
        assert need is not None and elder.age_on(younger.birth_date) >= need, binding


def test_a_population_needs_a_family() -> None:
    with pytest.raises(ValueError, match="at least one family"):
        population_toml(1, families=0)


def test_only_employees_have_accounts_so_the_population_loads_under_any_pack() -> None:
    dataset = generate_population(2, families=10, policy="liaoning-dalian-2025")
    assert dataset.policy.id == "liaoning-dalian-2025"
    for person in dataset.people.values():
        assert (person.account is not None) == (person.insurance.kind is InsuranceKind.EMPLOYEE)
