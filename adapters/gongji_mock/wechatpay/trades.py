"""The mock WeChat Pay's payment-code trades (付款码): pay, query, reverse.

The payment code decides the outcome (``outcome_of``), like ActiveMerchant's bogus
gateway: see docs/reference/mock-channels.md. Methods run under the endpoint's lock.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Callable

import attrs
import msgspec

from gongji.money import ZERO, Fen
from gongji_mock.codes import Outcome, outcome_by_pattern
from gongji_mock.records import Serial, Table
from gongji_mock.wechatpay import wire
from gongji_mock.wechatpay.errors import Refusal, param_error

_AUTH_CODE = re.compile(r"1[0-5][0-9]{16}")
BEIJING = datetime.timezone(datetime.timedelta(hours=8))

Clock = Callable[[], float]


def outcome_of(auth_code: str) -> Outcome | None:
    """The outcome of a WeChat payment code; None when it is not one (18 digits, 10-15 first)."""
    return outcome_by_pattern(auth_code, _AUTH_CODE)


@attrs.frozen
class Trade:
    mchid: str
    appid: str
    out_trade_no: str
    fingerprint: str
    total: Fen
    state: str  # SUCCESS, REFUND, USERPAYING, PAYERROR, REVOKED
    state_desc: str
    outcome: Outcome | None  # None: a number reversed before any payment was seen
    transaction_id: str | None = None
    attach: str = ""
    success_time: str | None = None
    refunded: Fen = ZERO

    @property
    def paid(self) -> bool:
        return self.success_time is not None


class Trades:
    """Payment-code trades by ``(mchid, out_trade_no)``; ``serial`` numbers transaction ids."""

    def __init__(self, *, clock: Clock, serial: Serial) -> None:
        self._clock = clock
        self._serial = serial
        self.table: Table[tuple[str, str], Trade] = Table(
            "wechatpay.trades", tuple[str, str], Trade
        )

    def collected(self) -> Fen:
        """What payers paid, net of refunds and reversals, in fen."""
        return sum((t.total - t.refunded for t in self.table.values() if t.paid), ZERO)

    def codepay(self, order: wire.CodePayRequest, mchid: str) -> tuple[int, msgspec.Struct]:
        if order.mchid != mchid:
            raise param_error("mchid", "mchid differs from the Authorization header's mchid.")
        if order.amount.total <= 0 or order.amount.currency != "CNY":
            raise param_error(
                "amount.total", "amount.total must be a positive integer of fen, CNY."
            )
        if not order.out_trade_no or len(order.out_trade_no) > 32:
            raise param_error("out_trade_no", "out_trade_no must be 1 to 32 characters.")
        outcome = outcome_of(order.payer.auth_code)
        if outcome is None:
            raise param_error(
                "payer.auth_code",
                "The payment code is not a WeChat one (18 digits starting 10-15); scan it again.",
                zh="付款码无效，请重新扫码",
            )
        fingerprint = digest(
            order.appid, order.description, order.payer.auth_code, str(order.amount.total)
        )
        key = (mchid, order.out_trade_no)
        trade = self.table.get(key)
        if trade is not None:
            if trade.fingerprint != fingerprint:
                raise Refusal(
                    403,
                    "OUT_TRADE_NO_USED",
                    "商户订单号重复",
                    f"out_trade_no {order.out_trade_no} was already used "
                    f"({'reversed' if trade.state == 'REVOKED' else 'for another payment'}); "
                    "nothing was charged. Give every new payment its own out_trade_no.",
                )
            return self._codepay_answer(trade)
        if outcome is Outcome.CODE_EXPIRED:
            raise param_error(
                "payer.auth_code",
                "The payment code has expired; ask the customer to refresh it and scan again.",
                zh="二维码已过期，请用户在微信上刷新后再试",
            )
        trade = Trade(
            mchid=mchid,
            appid=order.appid,
            out_trade_no=order.out_trade_no,
            fingerprint=fingerprint,
            total=Fen(order.amount.total),
            state="USERPAYING",
            state_desc="需要用户输入支付密码",
            outcome=outcome,
            attach=order.attach,
        )
        if outcome is Outcome.PAID:
            trade = self._paid(trade)
        elif outcome is Outcome.INSUFFICIENT_FUNDS:
            trade = attrs.evolve(trade, state="PAYERROR", state_desc="用户余额不足，支付失败")
        self.table.put(key, trade)
        return self._codepay_answer(trade)

    def _codepay_answer(self, trade: Trade) -> tuple[int, msgspec.Struct]:
        if trade.state == "USERPAYING":
            raise Refusal(
                202,
                "USERPAYING",
                "需要用户输入支付密码",
                "The customer must enter the payment password: query the order "
                "(GET /v3/pay/transactions/out-trade-no/{out_trade_no}) until it is paid, "
                "or reverse it.",
            )
        if trade.state == "PAYERROR":
            raise Refusal(
                403,
                "NOT_ENOUGH",
                "用户账户余额不足",
                "The customer's balance is insufficient; nothing was charged. "
                "Ask for another payment method and a new out_trade_no.",
            )
        return 200, self.transaction(trade)

    def _paid(self, trade: Trade) -> Trade:
        return attrs.evolve(
            trade,
            state="SUCCESS",
            state_desc="支付成功",
            transaction_id=self._transaction_id(),
            success_time=self.now_text(),
        )

    def query(self, mchid: str, out_trade_no: str) -> Trade:
        trade = self.table.get((mchid, out_trade_no))
        if trade is None or (trade.outcome is None and trade.state == "REVOKED"):
            raise Refusal(
                404,
                "ORDER_NOT_EXIST",
                "订单不存在",
                f"No order {out_trade_no[:64]!r} for merchant {mchid}; check out_trade_no.",
            )
        if trade.state == "USERPAYING" and trade.outcome is Outcome.USERPAYING_THEN_PAID:
            # the customer entered the password while the POS waited
            trade = self.table.put((mchid, out_trade_no), self._paid(trade))
        return trade

    def reverse(
        self, out_trade_no: str, body: wire.ReverseRequest, mchid: str
    ) -> tuple[int, msgspec.Struct]:
        if body.mchid != mchid:
            raise param_error("mchid", "mchid differs from the Authorization header's mchid.")
        key = (mchid, out_trade_no)
        trade = self.table.get(key)
        if trade is None or trade.outcome is None:
            # Remember the number, so that a payment arriving late can never be charged.
            if trade is None:
                self.table.put(
                    key,
                    Trade(
                        mchid=mchid,
                        appid=body.appid,
                        out_trade_no=out_trade_no,
                        fingerprint="",
                        total=ZERO,
                        state="REVOKED",
                        state_desc="已撤销",
                        outcome=None,
                    ),
                )
            raise Refusal(
                404,
                "ORDER_NOT_EXIST",
                "订单不存在",
                f"No order {out_trade_no[:64]!r}: nothing was charged, and the mock now refuses "
                "this out_trade_no, so a late payment cannot be charged either.",
            )
        if trade.state != "REVOKED":
            # The reversal gives the customer back what is left.
            refunded = trade.total if trade.paid else trade.refunded
            trade = self.table.put(
                key, attrs.evolve(trade, refunded=refunded, state="REVOKED", state_desc="已撤销")
            )
        return 200, wire.ReverseResponse(
            appid=trade.appid or None, mchid=mchid, out_trade_no=out_trade_no
        )

    def transaction(self, trade: Trade) -> wire.Transaction:
        return wire.Transaction(
            appid=trade.appid,
            mchid=trade.mchid,
            out_trade_no=trade.out_trade_no,
            transaction_id=trade.transaction_id,
            trade_type="MICROPAY",
            trade_state=trade.state,
            trade_state_desc=trade.state_desc,
            bank_type="OTHERS" if trade.paid else None,
            attach=trade.attach or None,
            success_time=trade.success_time,
            payer=wire.Payer(openid=_openid(trade)) if trade.paid else None,
            amount=wire.TransactionAmount(
                total=int(trade.total),
                payer_total=int(trade.total) if trade.paid else None,
                currency="CNY",
                payer_currency="CNY",
            ),
        )

    def now_text(self) -> str:
        moment = datetime.datetime.fromtimestamp(int(self._clock()), BEIJING)
        return moment.isoformat()

    def _transaction_id(self) -> str:
        moment = datetime.datetime.fromtimestamp(int(self._clock()), BEIJING)
        return f"42000{moment:%Y%m%d}{self._serial.next():015d}"


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _openid(trade: Trade) -> str:
    return "oMock" + hashlib.sha256(f"{trade.mchid}/{trade.out_trade_no}".encode()).hexdigest()[:23]
