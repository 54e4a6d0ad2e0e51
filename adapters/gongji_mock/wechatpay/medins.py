"""The mock's WeChat Pay medical-insurance orders (医保自费混合收款): ``POST /v3/med-ins/orders``,
``GET /v3/med-ins/orders/mix-trade-no/{mix_trade_no}`` and
``GET /v3/med-ins/orders/out-trade-no/{out_trade_no}``, merchant mode.

``WechatPayEndpoint`` routes here after it has checked the Authorization and the
``Wechatpay-Serial`` header, and calls in under its own lock. A new order is
checked in this order, nothing stored before every check has passed:

1. ``Wechatpay-Serial`` is present (the sensitive fields are encrypted under it);
2. the body (msgspec: lengths, amounts non-negative JSON integers of fen);
3. the enumerations and, per ``mix_pay_type``, which fields must or must not be sent
   (400 ``PARAM_ERROR`` with ``detail.field``);
4. the two documented amount rules (403 ``RULE_LIMIT``):
   ``total_fee = med_ins_gov_fee + med_ins_self_fee + med_ins_other_fee + wechat_pay_cash_fee
   + sum(cash_reduce_detail)`` and ``wechat_pay_cash_fee = med_ins_cash_fee +
   sum(cash_add_detail) - sum(cash_reduce_detail)``;
5. ``payer`` (and ``relative`` when ``pay_for_relatives``): ``name`` and ``id_digest``
   decrypt with the platform key (RSA-OAEP, SHA-1), the digest is 32 lower-case hex
   digits, and, with a register of the insured, it names an insured person whose
   name matches (400 ``INVALID_REQUEST`` otherwise);
6. idempotency by ``out_trade_no``: the same content (compared on the decrypted
   values, since RSA-OAEP gives new ciphertext every time) answers the same order;
   other content is refused with 400 ``ALREADY_EXISTS``.

An order is ``MIX_PAY_CREATED`` until the patient confirms it in WeChat. The mock
plays the patient: the order is confirmed at the merchant's first query, or earlier
by ``WechatPayEndpoint.confirm_med_ins`` (which can also make it fail). Confirmed, it
is ``MIX_PAY_SUCCESS`` and a ``MEDICAL_INSURANCE.SUCCESS`` callback goes to its
``callback_url``. See docs/reference/mock-channels.md.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx
import msgspec

from gongji.money import ZERO, Fen
from gongji_mock.records import Serial, Table
from gongji_mock.wechatpay import wire
from gongji_mock.wechatpay.errors import Refusal, decode, param_error
from gongji_mock.wechatpay.medins_checks import check_amounts, check_fields

PREFIX = "/v3/med-ins/"
ORDERS_PATH = "/v3/med-ins/orders"
SUCCESS_EVENT = "MEDICAL_INSURANCE.SUCCESS"
#: Not published for this callback; the mock's choice (it is also the associated data).
ORIGINAL_TYPE = "mix_order"


_BY_MIX = re.compile(r"/v3/med-ins/orders/mix-trade-no/([^/]+)")
_BY_OUT = re.compile(r"/v3/med-ins/orders/out-trade-no/([^/]+)")
_DIGEST = re.compile(r"[0-9a-f]{32}")
_BEIJING = datetime.timezone(datetime.timedelta(hours=8))

#: ``(url, event_type, summary, original_type, plaintext)``: the endpoint seals and sends it.
Notify = Callable[[str, str, str, str, bytes], None]


@attrs.frozen
class _Order:
    mchid: str
    mix_trade_no: str
    request: wire.MedInsOrderRequest = attrs.field(repr=False)
    fingerprint: str = attrs.field(repr=False)
    mix_pay_status: str = "MIX_PAY_CREATED"
    paid_time: str | None = None

    @property
    def self_pay(self) -> bool:
        return self.request.mix_pay_type != "INSURANCE_ONLY"

    @property
    def insurance_pay(self) -> bool:
        return self.request.mix_pay_type != "CASH_ONLY"

    @property
    def cash(self) -> Fen:
        return Fen(self.request.wechat_pay_cash_fee or 0)


class MedInsOrders:
    """The med-ins orders of one mock WeChat Pay; its methods run under the endpoint's lock.

    ``decrypt`` undoes RSA-OAEP with the platform private key; ``insured`` maps an
    ``id_digest`` to the name on that person's e-voucher (None: the register is not
    checked, only the fields' form); ``notify`` sends a callback.
    """

    def __init__(
        self,
        *,
        decrypt: Callable[[bytes], bytes],
        platform_key_id: str,
        clock: Callable[[], float],
        notify: Notify,
        insured: Mapping[str, str] | None = None,
    ) -> None:
        self._decrypt = decrypt
        self._platform_key_id = platform_key_id
        self._clock = clock
        self._notify = notify
        self.insured = insured
        self._orders: Table[tuple[str, str], _Order] = Table(  # (mchid, out_trade_no)
            "wechatpay.med_ins.orders", tuple[str, str], _Order, on_load=self._index
        )
        self._by_mix: dict[tuple[str, str], str] = {}  # (mchid, mix_trade_no) -> out_trade_no
        self._serial = Serial("wechatpay.med_ins.serial")  # of mix_trade_no

    def serves(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def route(self, request: httpx.Request, mchid: str) -> tuple[int, msgspec.Struct]:
        path, method = request.url.path, request.method
        if method == "POST" and path == ORDERS_PATH:
            return self._create(request, mchid)
        if method == "GET" and (match := _BY_MIX.fullmatch(path)):
            out_trade_no = self._by_mix.get((mchid, match[1]), "")
            return 200, self._answer(self._query(mchid, out_trade_no, match[1]))
        if method == "GET" and (match := _BY_OUT.fullmatch(path)):
            return 200, self._answer(self._query(mchid, match[1], match[1]))
        raise Refusal(
            404,
            "NOT_FOUND",
            "接口不存在",
            f"The mock's WeChat Pay does not serve {method} {path[:80]}; it answers "
            "POST /v3/med-ins/orders and GET /v3/med-ins/orders/{mix-trade-no|out-trade-no}/{number}.",
        )

    # ------------------------------------------------------------------ for tests and the endpoint

    def confirm(self, mix_trade_no: str, *, paid: bool = True) -> str:
        """The patient confirms (``paid``) or abandons the order in WeChat; its new status.

        Only a ``MIX_PAY_CREATED`` order changes; a confirmed one sends its callback.
        """
        order = next((o for o in self._orders.values() if o.mix_trade_no == mix_trade_no), None)
        if order is None:
            raise KeyError(f"No med-ins order {mix_trade_no[:40]!r}.")
        if order.mix_pay_status == "MIX_PAY_CREATED":
            order = self._settle(order, paid=paid)
        return order.mix_pay_status

    def collected(self) -> Fen:
        """The self-pay cash of confirmed orders (``wechat_pay_cash_fee``), in fen."""
        return sum(
            (o.cash for o in self._orders.values() if o.mix_pay_status == "MIX_PAY_SUCCESS"), ZERO
        )

    def __len__(self) -> int:
        return len(self._orders)

    # ------------------------------------------------------------------ a state file (--state)

    def tables(self) -> list[Table[Any, Any]]:
        """What the med-ins orders are (``gongji_mock.records``), and the serial of their numbers."""
        return [self._orders, self._serial.table]

    def _index(self) -> None:
        self._by_mix = {
            (o.mchid, o.mix_trade_no): o.request.out_trade_no for o in self._orders.values()
        }

    # ------------------------------------------------------------------ create

    def _create(self, request: httpx.Request, mchid: str) -> tuple[int, msgspec.Struct]:
        if "wechatpay-serial" not in request.headers:
            raise Refusal(
                400,
                "PARAM_ERROR",
                "缺少 Wechatpay-Serial",
                "A med-ins order needs the Wechatpay-Serial header naming the platform key "
                f"({self._platform_key_id}) that encrypted payer and relative. Nothing was processed.",
                detail=wire.ErrorDetail(
                    field="Wechatpay-Serial", location="header", issue="missing"
                ),
            )
        order = decode(request.content, wire.MedInsOrderRequest)
        check_fields(order)
        check_amounts(order)
        payer = self._identify(order.payer, "payer")
        relative = None
        if order.relative is not None:
            relative = self._identify(order.relative, "relative")
            if relative.id_digest == payer.id_digest:
                raise Refusal(
                    400,
                    "INVALID_REQUEST",
                    "亲属与支付人相同",
                    "relative is the payer; pay_for_relatives is for paying for another person. "
                    "Nothing was processed.",
                )
        # Compared on the decrypted values: a retry encrypts again and RSA-OAEP never repeats.
        opened = msgspec.structs.replace(order, payer=payer, relative=relative)
        fingerprint = hashlib.sha256(msgspec.json.encode(opened)).hexdigest()
        key = (mchid, order.out_trade_no)
        known = self._orders.get(key)
        if known is not None:
            if known.fingerprint != fingerprint:
                raise Refusal(
                    400,
                    "ALREADY_EXISTS",
                    "订单已存在",
                    f"out_trade_no {order.out_trade_no} already names med-ins order "
                    f"{known.mix_trade_no} with other content; nothing was created or charged. "
                    "Query it (GET /v3/med-ins/orders/out-trade-no/{out_trade_no}), "
                    "or give a new order its own out_trade_no.",
                )
            return 200, self._answer(known)
        created = _Order(
            mchid=mchid, mix_trade_no=self._mix_trade_no(), request=order, fingerprint=fingerprint
        )
        self._orders.put(key, created)
        self._by_mix[(mchid, created.mix_trade_no)] = order.out_trade_no
        return 200, self._answer(created)

    def _identify(self, person: wire.PersonIdentification, field: str) -> wire.PersonIdentification:
        """The person with ``name`` and ``id_digest`` decrypted and checked. Never echoed."""
        if person.card_type != "ID_CARD":
            raise param_error(
                f"{field}.card_type",
                "The mock knows resident ID cards only: card_type must be ID_CARD.",
            )
        name = self._reveal(person.name, f"{field}.name").strip()
        digest = self._reveal(person.id_digest, f"{field}.id_digest")
        if not name:
            raise param_error(f"{field}.name", f"{field}.name decrypts to an empty name.")
        if not _DIGEST.fullmatch(digest):
            raise param_error(
                f"{field}.id_digest",
                f"{field}.id_digest must decrypt to the ID number's MD5 as 32 lower-case hex "
                "digits (upper-case the ID number, 15 digits to 18, MD5), not to the number itself.",
            )
        if self.insured is not None:
            on_file = self.insured.get(digest)
            if on_file is None:
                raise Refusal(
                    400,
                    "INVALID_REQUEST",
                    "身份ID摘要与医保电子凭证绑卡信息不匹配",
                    f"{field}.id_digest names nobody insured at the mock's centre; "
                    "nothing was processed. Check the ID number the digest was made from.",
                )
            if on_file != name:
                raise Refusal(
                    400,
                    "INVALID_REQUEST",
                    "姓名与医保电子凭证绑卡姓名不匹配",
                    f"{field}.name is not the name on that person's e-voucher; "
                    "nothing was processed.",
                )
        return wire.PersonIdentification(name=name, id_digest=digest, card_type=person.card_type)

    def _reveal(self, sealed: str, field: str) -> str:
        try:
            return self._decrypt(base64.b64decode(sealed, validate=True)).decode("utf-8")
        except (binascii.Error, ValueError):  # bad base64, bad padding or key, not UTF-8
            raise param_error(
                field,
                f"{field} did not decrypt with the platform key {self._platform_key_id}: "
                "encrypt it with RSA-OAEP (SHA-1, MGF1-SHA-1) under the key that "
                "Wechatpay-Serial names, then base64; plaintext is refused.",
                zh="敏感字段解密失败",
            ) from None

    # ------------------------------------------------------------------ query, confirmation

    def _query(self, mchid: str, out_trade_no: str, number: str) -> _Order:
        order = self._orders.get((mchid, out_trade_no))
        if order is None:
            raise Refusal(
                404,
                "ORDER_NOT_EXIST",
                "未找到订单，请确认订单号是否正确",
                f"No med-ins order {number[:64]!r} for this merchant. If the create call got "
                "no answer, nothing was stored: create it again with the same out_trade_no.",
            )
        if order.mix_pay_status == "MIX_PAY_CREATED":
            order = self._settle(order, paid=True)  # the patient confirmed while the POS waited
        return order

    def _settle(self, order: _Order, *, paid: bool) -> _Order:
        key = (order.mchid, order.request.out_trade_no)
        if not paid:
            return self._orders.put(key, attrs.evolve(order, mix_pay_status="MIX_PAY_FAIL"))
        order = self._orders.put(
            key,
            attrs.evolve(order, mix_pay_status="MIX_PAY_SUCCESS", paid_time=self._now_text()),
        )
        self._notify(
            order.request.callback_url,
            SUCCESS_EVENT,
            "医保混合收款成功",
            ORIGINAL_TYPE,
            msgspec.json.encode(self._answer(order)),
        )
        return order

    def _answer(self, order: _Order) -> wire.MedInsOrder:
        request, status = order.request, order.mix_pay_status
        part = status.removeprefix("MIX_PAY_")  # CREATED, SUCCESS, FAIL
        return wire.MedInsOrder(
            mix_trade_no=order.mix_trade_no,
            mix_pay_status=status,
            self_pay_status=f"SELF_PAY_{part}" if order.self_pay else "NO_SELF_PAY",
            med_ins_pay_status=f"MED_INS_PAY_{part}" if order.insurance_pay else "NO_MED_INS_PAY",
            paid_time=order.paid_time,
            mix_pay_type=request.mix_pay_type,
            order_type=request.order_type,
            appid=request.appid,
            openid=request.openid,
            pay_for_relatives=request.pay_for_relatives,
            out_trade_no=request.out_trade_no,
            serial_no=request.serial_no,
            pay_order_id=request.pay_order_id,
            pay_auth_no=request.pay_auth_no,
            geo_location=request.geo_location,
            city_id=request.city_id,
            med_inst_name=request.med_inst_name,
            med_inst_no=request.med_inst_no,
            med_ins_order_create_time=request.med_ins_order_create_time,
            total_fee=request.total_fee,
            med_ins_gov_fee=request.med_ins_gov_fee or 0,
            med_ins_self_fee=request.med_ins_self_fee or 0,
            med_ins_other_fee=request.med_ins_other_fee or 0,
            med_ins_cash_fee=request.med_ins_cash_fee or 0,
            wechat_pay_cash_fee=request.wechat_pay_cash_fee or 0,
            cash_add_detail=request.cash_add_detail or None,
            cash_reduce_detail=request.cash_reduce_detail or None,
            callback_url=request.callback_url,
            prepay_id=request.prepay_id,
            passthrough_request_content=request.passthrough_request_content,
            extends=request.extends,
            attach=request.attach,
            channel_no=request.channel_no,
            med_ins_test_env=request.med_ins_test_env,
        )

    def _now_text(self) -> str:
        return datetime.datetime.fromtimestamp(int(self._clock()), _BEIJING).isoformat()

    def _mix_trade_no(self) -> str:
        moment = datetime.datetime.fromtimestamp(int(self._clock()), _BEIJING)
        return f"{moment:%Y%m%d%H%M%S}{self._serial.next():016d}"
