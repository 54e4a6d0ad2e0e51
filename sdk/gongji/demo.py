"""The embedded default: seed 000's Zhang family in Dalian, and the stories ``gongji demo`` tells.

Each story is a purchase at a Dalian pharmacy and the outcome its script expects.
Until the mock gateway takes over the centre's part, the family's data is
answered locally: who a credential belongs to, the bindings, the balances, and
the fund's share from the Dalian pack.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from attrs import frozen

from gongji.assess import assess
from gongji.errors import GongjiError
from gongji.identity import Credential, IdNumber
from gongji.model import Binding, LineItem, Person, Purchase, Quote
from gongji.money import Fen

# Who is who in the demo dataset (gongji_mock/datasets/zhang-family.toml).
ZHANG_WEI = IdNumber("210202198503170036")  # in-service employee, 5000 yuan (seed 000)
MOTHER = IdNumber("210202195809120046")  # resident insurance: no personal account
DAUGHTER = IdNumber("210202201506010227")  # resident insurance; her mother's binding is pending
GRANDMOTHER = IdNumber("620102193211080627")  # insured in Gansu


def zhang_family() -> tuple[dict[IdNumber, Person], tuple[Binding, ...], dict[str, IdNumber]]:
    """People, bindings and e-voucher tokens of the demo dataset."""
    from gongji_mock.dataset import demo_dataset

    dataset = demo_dataset()
    return dict(dataset.people), dataset.bindings, dict(dataset.e_vouchers)


@frozen
class Story:
    title: str
    purchase: Purchase
    #: What the script expects; returns a failure description, or None when the outcome is right.
    expect: Callable[[Quote | GongjiError], str | None]


def _pays(*sources: str, cash: bool) -> Callable[[Quote | GongjiError], str | None]:
    def check(outcome: Quote | GongjiError) -> str | None:
        if isinstance(outcome, GongjiError):
            return f"expected a quote, got {outcome.code}"
        got = tuple(leg.source for leg in outcome.legs)
        if got != sources:
            return f"expected legs {sources}, got {got}"
        if bool(outcome.cash) != cash:
            return f"expected {'some' if cash else 'no'} cash, got {outcome.cash}"
        return None

    return check


def _refused(rule: str) -> Callable[[Quote | GongjiError], str | None]:
    def check(outcome: Quote | GongjiError) -> str | None:
        if isinstance(outcome, GongjiError) and getattr(outcome, "rule", None) == rule:
            return None
        return f"expected a refusal under {rule}, got {outcome!r}"

    return check


def _drug(code: str, name: str, yuan: str, quantity: int = 1, coverage: str = "A") -> LineItem:
    return LineItem(
        code=code, name=name, unit_price=Fen.from_yuan(yuan), quantity=quantity, coverage=coverage
    )


def stories() -> list[Story]:
    mother_card = Credential.e_voucher("demo-token-mother")
    son_card = Credential.e_voucher("demo-token-zhangwei")
    return [
        Story(
            "Zhang Wei buys cold medicine with his own account",
            Purchase(credential=son_card, items=[_drug("X01", "感冒灵颗粒", "12.50", 2)]),
            _pays("own_account", cash=False),
        ),
        Story(
            "His mother (resident insurance, no account) pays through her son's account",
            Purchase(
                credential=mother_card,
                items=[
                    _drug("X02", "硝苯地平缓释片", "36.80", 2),
                    _drug("X03", "阿托伐他汀钙片", "45.00", 1, "B"),
                ],
            ),
            _pays("mutual_aid", cash=False),
        ),
        Story(
            "The mother tries to settle with her son's e-voucher: impersonation",
            Purchase(
                credential=son_card,
                patient_id=MOTHER,
                items=[_drug("X02", "硝苯地平缓释片", "36.80", 2)],
            ),
            _refused("R1"),
        ),
        Story(
            "Zhang Wei presents his mother's own e-voucher for her (proxy purchase)",
            Purchase(
                credential=mother_card,
                agent_id=ZHANG_WEI,
                items=[_drug("X04", "阿莫西林胶囊", "18.00")],
            ),
            _pays("mutual_aid", cash=False),
        ),
        Story(
            "A basket with a lipstick: the cosmetic goes to cash, the drugs to the account",
            Purchase(
                credential=son_card,
                items=[
                    _drug("X01", "感冒灵颗粒", "12.50"),
                    LineItem(
                        code="C01",
                        name="润唇膏",
                        unit_price=Fen(8_800),
                        quantity=1,
                        category="cosmetic",
                        coverage="C",
                    ),
                ],
            ),
            _pays("own_account", cash=True),
        ),
        Story(
            "A large bill for the mother: son (400-yuan limit), then daughter, then cash",
            Purchase(
                credential=mother_card, items=[_drug("X05", "胰岛素注射液", "268.00", 6, "B")]
            ),
            _pays("mutual_aid", "mutual_aid", cash=True),
        ),
        Story(
            "The grandmother, insured in Gansu, shows her own ID card: Dalian's rules refuse the binding",
            Purchase(
                credential=Credential.id_card(GRANDMOTHER),
                items=[_drug("X06", "复方丹参滴丸", "29.90")],
            ),
            _pays(cash=True),
        ),
        Story(
            "The daughter's self-paid vaccine: not a mutual-aid use in Dalian, and the mother's binding is pending",
            Purchase(
                credential=Credential.id_card(DAUGHTER),
                purpose="vaccine",
                items=[
                    LineItem(
                        code="V01",
                        name="流感疫苗",
                        unit_price=Fen(12_800),
                        quantity=1,
                        category="vaccine",
                        coverage="C",
                    )
                ],
            ),
            _pays(cash=True),
        ),
    ]


def run_story(story: Story, today: datetime.date) -> Quote | GongjiError:
    """The story's purchase, assessed locally on what the mock centre knows of the family."""
    from gongji_mock.centre import Centre
    from gongji_mock.dataset import demo_dataset

    try:
        return assess(Centre(demo_dataset()).context(story.purchase, today))
    except GongjiError as exc:
        return exc
