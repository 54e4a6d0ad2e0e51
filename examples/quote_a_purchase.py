"""Quote a purchase with the local rules: who pays what, and why not.

Run: .venv/bin/python examples/quote_a_purchase.py
The centre's answers (who the credential belongs to, the bindings, the balances)
are filled in by hand here; the settlement client gets them from the gateway.
"""

from __future__ import annotations

import gongji
from gongji import clock as beijing
from gongji.policy import get_policy
from gongji.rules.assess import assess
from gongji.rules.context import CheckContext

son = gongji.Person(
    "210202198503170036",
    "张伟",
    gongji.Insurance("employee", "active", "210202"),
    gongji.PersonalAccount(gongji.Fen.from_yuan("5000.00")),
)
mother = gongji.Person(
    "210202195809120046", "王秀兰", gongji.Insurance("resident", "active", "210202")
)
binding = gongji.Binding(
    son.id, mother.id, "parent", "active", per_transaction_limit=gongji.Fen(20_000)
)

purchase = gongji.Purchase(
    credential=gongji.Credential.id_card(mother.id.number),
    items=[
        gongji.LineItem(
            code="X02", name="硝苯地平缓释片", unit_price=gongji.Fen(3_680), quantity=2
        ),
        gongji.LineItem(
            code="C01", name="润唇膏", unit_price=gongji.Fen(8_800), quantity=1, category="cosmetic"
        ),
    ],
)
quote = assess(
    CheckContext(
        purchase=purchase,
        holder=mother,
        policy=get_policy("liaoning-dalian-2025"),
        today=beijing.today(),
        bindings=(binding,),
        owners={son.id: son},
    )
)
for sentence in quote.explain():
    print(sentence)
print()
for sentence in quote.explain("zh"):
    print(sentence)
