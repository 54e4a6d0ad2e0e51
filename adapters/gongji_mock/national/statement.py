"""3201, the day's totals against the institution's, and 3202, the day's details (对账)."""

from __future__ import annotations

import datetime

from gongji.money import ZERO
from gongji_mock.centre.decisions import Settlement
from gongji_mock.national.office import Office
from gongji_mock.national.records import Settled
from gongji_mock.national.transform import (
    INSUTYPE,
    Answer,
    Malformed,
    date,
    decode_input,
    fen,
    legs,
    wrapped,
)
from gongji_mock.national.wire import (
    Data,
    RequestEnvelope,
    StatementData,
    StatementDetail,
    StatementTotals,
)


def day_totals(office: Office, envelope: RequestEnvelope) -> Answer:
    data, found = _statement(office, envelope)
    quotes = [settlement.quote for settlement, _ in found]
    totals = StatementTotals(
        fixmedins_setl_cnt=len(quotes),
        medfee_sumamt=sum((q.total for q in quotes), ZERO).to_yuan(),
        fund_pay_sumamt=sum((q.fund for q in quotes), ZERO).to_yuan(),
        acct_pay=sum((legs(q, "own_account") for q in quotes), ZERO).to_yuan(),
        acct_mulaid_pay=sum((legs(q, "mutual_aid") for q in quotes), ZERO).to_yuan(),
        psn_cash_pay=sum((q.cash for q in quotes), ZERO).to_yuan(),
    )
    claimed = (data.medfee_sumamt, data.fund_pay_sumamt, data.acct_pay, data.fixmedins_setl_cnt)
    if all(value is None for value in claimed):
        result, description = (
            "",
            "未提交机构汇总，仅返回中心汇总 / No institution totals sent; the centre's totals only.",
        )
    else:
        same = (
            data.medfee_sumamt is not None
            and fen(data.medfee_sumamt, "medfee_sumamt").to_yuan() == totals.medfee_sumamt
            and data.fund_pay_sumamt is not None
            and fen(data.fund_pay_sumamt, "fund_pay_sumamt").to_yuan() == totals.fund_pay_sumamt
            and data.acct_pay is not None
            and fen(data.acct_pay, "acct_pay").to_yuan() == totals.acct_pay
            and data.fixmedins_setl_cnt == totals.fixmedins_setl_cnt
        )
        result = "0" if same else "1"
        description = (
            "对账一致 / Totals agree."
            if same
            else ("对账不平，请用3202核对明细 / Totals differ; compare the details with 3202.")
        )
    return Answer(
        wrapped(
            stmtinfo=wrapped(
                setl_optins=data.setl_optins or "", stmt_rslt=result, stmt_rslt_dscr=description
            ),
            gongji_totals=totals,
        )
    )


def day_details(office: Office, envelope: RequestEnvelope) -> Answer:
    _data, found = _statement(office, envelope)
    details = []
    for settlement, settled in found:
        quote = settlement.quote
        details.append(
            StatementDetail(
                setl_id=settlement.setl_id,
                mdtrt_id=settled.mdtrt_id,
                psn_no=settled.psn_no,
                msgid=settled.msgid,
                setl_time=settled.setl_time,
                refd_setl_flag="0",
                medfee_sumamt=quote.total.to_yuan(),
                fund_pay_sumamt=quote.fund.to_yuan(),
                acct_pay=legs(quote, "own_account").to_yuan(),
                acct_mulaid_pay=legs(quote, "mutual_aid").to_yuan(),
                psn_cash_pay=quote.cash.to_yuan(),
            )
        )
    return Answer(wrapped(gongji_details=details))


def _statement(
    office: Office, envelope: RequestEnvelope
) -> tuple[StatementData, list[tuple[Settlement, Settled]]]:
    data = decode_input(envelope, Data[StatementData]).data
    first = date(data.stmt_begndate, "stmt_begndate")
    last = date(data.stmt_enddate, "stmt_enddate")
    if last < first or (last - first).days > 31:
        raise Malformed(
            "对账日期区间错误",
            "stmt_enddate must be on or after stmt_begndate, within 31 days.",
        )
    centre = office.centre
    found = []
    day = first
    while day <= last:
        for settlement in centre.settlements_on(day):
            settled = office.records.settled.get(settlement.setl_id)
            if settled is None or settled.fixmedins_code != envelope.fixmedins_code:
                continue
            kind = centre.person(settlement.patient).insurance.kind
            if data.insutype and INSUTYPE.get(kind) != data.insutype:
                continue
            found.append((settlement, settled))
        day += datetime.timedelta(days=1)
    return data, found
