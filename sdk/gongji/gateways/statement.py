"""What a day's reconciliation exchanges with the centre (对账), as the national interface
has it: totals per clearing group (3201), then the institution's settlements as a file,
compared by the centre line by line (3202), which answers only what differs.

* ``Clearing``: what a settlement is cleared under (insurance type, clearing type,
  settling agency); 3201 is sent once per ``Clearing`` of the day.
* ``StatementLine``: one settlement of the institution's details file.
* ``TotalsVerdict``: the centre's answer to one 3201: balanced or not, and its words.
  The centre sends no totals of its own.
* ``CentreDifference``: one line of the centre's result file: a settlement on which the
  centre and the file disagree, with the amounts the centre has (none when it has no
  standing settlement). The centre names no mutual-aid or cash share here.
"""

from __future__ import annotations

from attrs import frozen

from gongji.model import Setting
from gongji.money import Fen

__all__ = ["CentreDifference", "Clearing", "StatementLine", "TotalsVerdict"]


@frozen(order=True)
class Clearing:
    """What the centre clears a settlement under: ``insutype`` (310, 390...), ``clr_type``
    (41 pharmacy, 11 outpatient, as centres usually code it) and ``setl_optins``, the
    settling agency (the ``clr_optins`` of the settlement's answer)."""

    insutype: str
    clr_type: str
    setl_optins: str


@frozen
class StatementLine:
    """One standing settlement of the journal, as the details file (3202) lists it."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    total: Fen
    fund: Fen
    own_account: Fen
    mutual_aid: Fen
    cash: Fen
    clearing: Clearing
    setting: Setting = Setting.PHARMACY


@frozen
class TotalsVerdict:
    """The centre's verdict on one clearing group's totals (3201 ``stmtinfo``)."""

    clearing: Clearing
    count: int  # what was sent: the group's settlements
    total: Fen
    fund: Fen
    own_account: Fen
    #: True balanced, False not balanced, None a result code gongji does not know.
    agreed: bool | None
    result: str = ""  # ``stmt_rslt`` as the centre sent it
    description: str = ""  # ``stmt_rslt_dscr``


@frozen
class CentreDifference:
    """One line of the centre's result file (9102 after 3202).

    The amounts are the centre's; None where it sent none (it has no standing settlement
    under ``setl_id``). ``result`` and ``memo`` are the centre's own code and words: their
    values differ between regions, so gongji reads the kind of difference from the file it
    uploaded, not from them.
    """

    setl_id: str
    msgid: str = ""
    psn_no: str = ""
    mdtrt_id: str = ""
    result: str = ""
    refunded: bool = False  # refd_setl_flag
    memo: str = ""
    total: Fen | None = None
    fund: Fen | None = None
    own_account: Fen | None = None
