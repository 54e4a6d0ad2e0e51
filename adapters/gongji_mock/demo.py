"""The stories ``gongji demo`` tells: seed 000's Zhang family in Dalian at the pharmacy.

Each story is a purchase at a Dalian pharmacy (or, for one, a premium paid on behalf
through the mock's premium channel) and the outcome its script expects. It runs end to
end, as a POS would: ``SettlementClient.from_profile("mock", mock=...)`` previews it
(the quote), settles it (the receipt, the cash share collected through a channel of
the mock) or pays it (``pay_premium``), and for one story refunds it. A story ends as scripted only when
its outcome is the expected one AND the mock's ledger moved exactly as the receipt says;
after the last story the ledger's own invariants are checked (``mock.check()``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from attrs import field, frozen

from gongji.client import SettlementClient
from gongji.errors import GongjiError
from gongji.identity import Credential, IdNumber
from gongji.model import Cash, LineItem, Purchase, Receipt
from gongji.money import Fen
from gongji.premium import PremiumPayment, PremiumReceipt
from gongji.rules.quote import Quote
from gongji_mock.gateway import MockGateway

# Who is who in the demo dataset (gongji_mock/centre/datasets/zhang-family.toml).
ZHANG_WEI = IdNumber("210202198503170036")  # in-service employee, 5000 yuan (seed 000)
MOTHER = IdNumber("210202195809120046")  # resident insurance: no personal account
DAUGHTER = IdNumber("210202201506010227")  # resident insurance; her mother's binding is pending
GRANDMOTHER = IdNumber("620102193211080627")  # insured in Gansu


#: Payment codes the mock's channels accept and pay at once (docs/reference/mock-channels.md).
WECHAT_CODE = "134567890123456781"
ALIPAY_CODE = "2887654321012341"


@frozen
class Story:
    title: str
    #: A purchase to settle, or a premium to pay on behalf (never a sale: its own operation).
    purchase: Purchase | PremiumPayment
    #: What the script expects; returns a failure description, or None when the outcome is right.
    expect: Callable[[Quote | GongjiError], str | None]
    #: How the cash share is collected when the story settles.
    cash: Cash = field(factory=Cash.counter)
    #: The customer brings it all back: the sale is refunded after it settles.
    refund: bool = False


@frozen
class Told:
    """How a story went: the quote or the refusal, the receipt, the refund, and what was
    not as scripted (None when all was)."""

    story: Story
    quote: Quote | None = None
    refused: GongjiError | None = None
    receipt: Receipt | None = None
    refund: Receipt | None = None
    problem: str | None = None
    premium: PremiumReceipt | None = None


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


#: Never covered: a cosmetic is paid in cash whoever's account is at hand.
LIPSTICK = LineItem(
    code="C01", name="润唇膏", unit_price=Fen(8_800), quantity=1, category="cosmetic", coverage="C"
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
                use_mutual_aid=True,  # she asks the cashier to use her son's account
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
                use_mutual_aid=True,
            ),
            _pays("mutual_aid", cash=False),
        ),
        Story(
            "A basket with a lipstick: the cosmetic goes to cash, the drugs to the account",
            Purchase(
                credential=son_card,
                items=[
                    _drug("X01", "感冒灵颗粒", "12.50"),
                    LIPSTICK,
                ],
            ),
            _pays("own_account", cash=True),
            cash=Cash.wechat(WECHAT_CODE),
        ),
        Story(
            "A large bill for the mother: son (400-yuan limit), then daughter, then cash "
            "(the centre reports the mutual aid as one amount)",
            Purchase(
                credential=mother_card,
                items=[_drug("X05", "胰岛素注射液", "268.00", 6, "B")],
                use_mutual_aid=True,
            ),
            _pays("mutual_aid", cash=True),
            cash=Cash.alipay(ALIPAY_CODE),
        ),
        Story(
            "The grandmother, insured in Gansu, shows her own ID card: Dalian's rules refuse the binding",
            Purchase(
                credential=Credential.id_card(GRANDMOTHER),
                items=[_drug("X06", "复方丹参滴丸", "29.90")],
                use_mutual_aid=True,
            ),
            _pays(cash=True),
            cash=Cash.counter(),
        ),
        Story(
            "The daughter's self-paid vaccine: not a mutual-aid use in Dalian, and the mother's binding is pending",
            Purchase(
                credential=Credential.id_card(DAUGHTER),
                purpose="vaccine",
                use_mutual_aid=True,
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
            cash=Cash.wechat(WECHAT_CODE),
        ),
        Story(
            "Zhang Wei brings back a thermometer and a lipstick: the whole sale is refunded",
            Purchase(
                credential=son_card,
                items=[
                    LineItem(
                        code="D01",
                        name="电子体温计",
                        unit_price=Fen(3_500),
                        quantity=1,
                        category="medical_device",
                    ),
                    LIPSTICK,
                ],
            ),
            _pays("own_account", cash=True),
            cash=Cash.wechat(WECHAT_CODE),
            refund=True,
        ),
        Story(
            "Zhang Wei pays his mother's 380-yuan resident premium from his account (seed 000): "
            "a premium on behalf, through the premium channel, not a pharmacy sale",
            PremiumPayment(
                credential=son_card,  # his own: it is his account that pays
                insured_id=MOTHER,
                kind="resident_premium",
                amount=Fen(38_000),
            ),
            _pays("mutual_aid", cash=False),
        ),
    ]


def tell(stories: list[Story], mock: MockGateway) -> tuple[list[Told], list[str]]:
    """Run every story against ``mock`` through one client, as a till would; returns how
    each went and the ledger's invariant violations at the end (empty when sound)."""
    with SettlementClient.from_profile("mock", mock=mock) as client:
        told = [_tell(client, mock, number, story) for number, story in enumerate(stories, 1)]
    return told, mock.check()


def _tell(client: SettlementClient, mock: MockGateway, number: int, story: Story) -> Told:
    if isinstance(story.purchase, PremiumPayment):
        return _tell_premium(client, mock, number, story, story.purchase)
    before = _balances(mock)
    try:
        quote = client.preview(story.purchase)
    except GongjiError as refused:
        problem = story.expect(refused) or _refused_at_settle(client, story, number)
        return Told(story, refused=refused, problem=problem or _unchanged(mock, before))
    problem = story.expect(quote)
    if problem is not None:
        return Told(story, quote=quote, problem=problem)
    try:
        receipt = client.settle(story.purchase, key=_key(number), cash=story.cash)
    except GongjiError as error:
        return Told(story, quote=quote, problem=f"the settlement failed: {error.code}: {error}")
    problem = _as_quoted(quote, receipt, story.cash) or _debited(mock, before, receipt)
    if problem is not None or not story.refund:
        return Told(story, quote=quote, receipt=receipt, problem=problem)
    try:
        refund = client.refund(receipt.settlement_id)
    except GongjiError as error:
        return Told(story, quote=quote, receipt=receipt, problem=f"the refund failed: {error.code}")
    entry = client.journal.get(receipt.key)
    state = entry.state.value if entry is not None else "missing"
    problem = (
        None if state == "refunded" else f"the journal says {state}, not refunded"
    ) or _unchanged(mock, before)
    return Told(story, quote=quote, receipt=receipt, refund=refund, problem=problem)


def _tell_premium(
    client: SettlementClient, mock: MockGateway, number: int, story: Story, payment: PremiumPayment
) -> Told:
    """A premium on behalf: previewed, paid once, and the payer's account alone moved by it."""
    before = _balances(mock)
    try:
        quote = client.preview_premium(payment)
    except GongjiError as refused:
        return Told(
            story, refused=refused, problem=story.expect(refused) or _unchanged(mock, before)
        )
    problem = story.expect(quote)
    if problem is not None:
        return Told(story, quote=quote, problem=problem)
    try:
        paid = client.pay_premium(payment, key=_key(number))
    except GongjiError as error:
        return Told(story, quote=quote, problem=f"the premium was not paid: {error.code}: {error}")
    quoted = [(leg.payer_id, leg.amount) for leg in quote.legs]
    problem = (
        None if quoted == [(paid.payer_id, paid.amount)] else "the premium differs from the quote"
    )
    moved = Counter({paid.payer_id: int(paid.amount)})
    return Told(story, quote=quote, premium=paid, problem=problem or _moved(mock, before, moved))


def _key(number: int) -> str:
    return f"DEMO-{number:02d}"


def _balances(mock: MockGateway) -> dict[IdNumber, Fen]:
    return {person: mock.balance(person) for person in mock.centre.dataset.people}


def _refused_at_settle(client: SettlementClient, story: Story, number: int) -> str | None:
    """A refused preview must refuse the settlement (or the payment) too: nothing may be charged."""
    try:
        if isinstance(story.purchase, PremiumPayment):
            client.pay_premium(story.purchase, key=_key(number))
        else:
            client.settle(story.purchase, key=_key(number), cash=story.cash)
    except GongjiError:
        return None
    return "the preview was refused, yet the settlement went through"


def _as_quoted(quote: Quote, receipt: Receipt, cash: Cash) -> str | None:
    """The receipt is the quote, booked: same fund, legs and cash, collected as asked."""
    planned = [(leg.source, leg.payer_id, leg.amount) for leg in quote.legs]
    booked = [(leg.source, leg.payer_id, leg.amount) for leg in receipt.legs]
    if (quote.fund, planned, quote.cash) != (receipt.fund, booked, receipt.cash):
        return "the receipt differs from the quote"
    if receipt.cash and receipt.cash_channel != cash.kind:
        return f"the cash was collected by {receipt.cash_channel or 'nobody'}, not {cash.kind}"
    return None


def _debited(mock: MockGateway, before: dict[IdNumber, Fen], receipt: Receipt) -> str | None:
    """Each account paid exactly its legs of the receipt, and no other account moved."""
    paid: Counter[IdNumber] = Counter()
    unnamed = 0  # mutual aid whose owners the centre did not report: checked as one sum
    for leg in receipt.legs:
        if leg.payer_id is None:
            unnamed += int(leg.amount)
        else:
            paid[leg.payer_id] += int(leg.amount)
    return _moved(mock, before, paid, unnamed)


def _moved(
    mock: MockGateway, before: dict[IdNumber, Fen], paid: Counter[IdNumber], unnamed: int = 0
) -> str | None:
    """Each account moved by exactly what it ``paid``, and no other account moved, but for
    ``unnamed`` fen of mutual aid whose owners the centre did not report (checked as a sum)."""
    after = _balances(mock)
    extra = 0
    for person, balance in before.items():
        moved = int(balance - after[person])
        if moved < paid[person] or (moved > paid[person] and not unnamed):
            return (
                f"the ledger moved {person.masked}'s account by "
                f"{Fen(moved).to_yuan()} yuan; the receipt says {Fen(paid[person]).to_yuan()}"
            )
        extra += moved - paid[person]
    if extra != unnamed:
        return (
            f"relatives' accounts moved by {Fen(extra).to_yuan()} yuan; the receipt's mutual aid "
            f"without named owners is {Fen(unnamed).to_yuan()}"
        )
    return None


def _unchanged(mock: MockGateway, before: dict[IdNumber, Fen]) -> str | None:
    """Nothing was charged (a refusal), or everything was given back (a refund)."""
    after = _balances(mock)
    moved = [person.masked for person, balance in before.items() if after[person] != balance]
    return f"accounts still moved: {', '.join(moved)}" if moved else None
