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
import itertools
import re
import urllib.parse
from collections.abc import Callable, Mapping

import attrs
import httpx
import msgspec

from gongji.money import ZERO, Fen
from gongji_mock.wechatpay import wire
from gongji_mock.wechatpay.errors import Refusal, decode, param_error

PREFIX = "/v3/med-ins/"
ORDERS_PATH = "/v3/med-ins/orders"
SUCCESS_EVENT = "MEDICAL_INSURANCE.SUCCESS"
#: Not published for this callback; the mock's choice (it is also the associated data).
ORIGINAL_TYPE = "mix_order"

MIX_PAY_TYPES = frozenset({"CASH_ONLY", "INSURANCE_ONLY", "CASH_AND_INSURANCE"})
ORDER_TYPES = frozenset(
    {
        "REG_PAY",
        "DIAG_PAY",
        "COVID_EXAM_PAY",
        "IN_HOSP_PAY",
        "PHARMACY_PAY",
        "INSURANCE_PAY",
        "INT_REG_PAY",
        "INT_RE_DIAG_PAY",
        "INT_RX_PAY",
        "COVID_ANTIGEN_PAY",
        "MED_PAY",
    }
)
CASH_ADD_TYPES = frozenset({"DEFAULT_ADD_TYPE", "FREIGHT", "OTHER_MEDICAL_EXPENSES"})
CASH_REDUCE_TYPES = frozenset(
    {
        "DEFAULT_REDUCE_TYPE",
        "HOSPITAL_REDUCE",
        "PHARMACY_DISCOUNT",
        "DISCOUNT",
        "PRE_PAYMENT",
        "DEPOSIT_DEDUCTION",
    }
)
#: The insurance order's own fields: never with CASH_ONLY, always with the other two types.
INSURANCE_FIELDS = ("pay_order_id", "pay_auth_no", "geo_location", "med_ins_order_create_time")
INSURANCE_FEES = ("med_ins_gov_fee", "med_ins_self_fee", "med_ins_other_fee", "med_ins_cash_fee")

_BY_MIX = re.compile(r"/v3/med-ins/orders/mix-trade-no/([^/]+)")
_BY_OUT = re.compile(r"/v3/med-ins/orders/out-trade-no/([^/]+)")
_DIGEST = re.compile(r"[0-9a-f]{32}")
_GEO = re.compile(r"-?[0-9]{1,3}(\.[0-9]{1,10})?,-?[0-9]{1,2}(\.[0-9]{1,10})?")
_BEIJING = datetime.timezone(datetime.timedelta(hours=8))

#: ``(url, event_type, summary, original_type, plaintext)``: the endpoint seals and sends it.
Notify = Callable[[str, str, str, str, bytes], None]


@attrs.define
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
        self._orders: dict[tuple[str, str], _Order] = {}  # (mchid, out_trade_no)
        self._by_mix: dict[tuple[str, str], _Order] = {}  # (mchid, mix_trade_no)
        self._serial = itertools.count(1)

    def serves(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def route(self, request: httpx.Request, mchid: str) -> tuple[int, msgspec.Struct]:
        path, method = request.url.path, request.method
        if method == "POST" and path == ORDERS_PATH:
            return self._create(request, mchid)
        if method == "GET" and (match := _BY_MIX.fullmatch(path)):
            return 200, self._answer(self._query(self._by_mix.get((mchid, match[1])), match[1]))
        if method == "GET" and (match := _BY_OUT.fullmatch(path)):
            return 200, self._answer(self._query(self._orders.get((mchid, match[1])), match[1]))
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
        order = next((o for o in self._by_mix.values() if o.mix_trade_no == mix_trade_no), None)
        if order is None:
            raise KeyError(f"No med-ins order {mix_trade_no[:40]!r}.")
        if order.mix_pay_status == "MIX_PAY_CREATED":
            self._settle(order, paid=paid)
        return order.mix_pay_status

    def collected(self) -> Fen:
        """The self-pay cash of confirmed orders (``wechat_pay_cash_fee``), in fen."""
        return sum(
            (o.cash for o in self._orders.values() if o.mix_pay_status == "MIX_PAY_SUCCESS"), ZERO
        )

    def __len__(self) -> int:
        return len(self._orders)

    # ------------------------------------------------------------------ a state file (--state)

    def snapshot(self) -> MedInsState:
        """The orders as plain data, in the order they were created, and the serial."""
        serial = next(self._serial)
        self._serial = itertools.count(serial)  # reading a count consumes it: put it back
        return MedInsState(
            orders=[
                _OrderRow(
                    mchid=o.mchid,
                    mix_trade_no=o.mix_trade_no,
                    request=o.request,
                    fingerprint=o.fingerprint,
                    mix_pay_status=o.mix_pay_status,
                    paid_time=o.paid_time,
                )
                for o in self._orders.values()
            ],
            serial=serial,
        )

    def restore(self, state: MedInsState) -> None:
        """Put back what ``snapshot()`` took."""
        orders: dict[tuple[str, str], _Order] = {}
        by_mix: dict[tuple[str, str], _Order] = {}
        for row in state.orders:
            order = _Order(
                mchid=row.mchid,
                mix_trade_no=row.mix_trade_no,
                request=row.request,
                fingerprint=row.fingerprint,
                mix_pay_status=row.mix_pay_status,
                paid_time=row.paid_time,
            )
            orders[(row.mchid, row.request.out_trade_no)] = order
            by_mix[(row.mchid, row.mix_trade_no)] = order
        self._orders, self._by_mix = orders, by_mix
        self._serial = itertools.count(state.serial)

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
        _check_fields(order)
        _check_amounts(order)
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
        self._orders[key] = created
        self._by_mix[(mchid, created.mix_trade_no)] = created
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

    def _query(self, order: _Order | None, number: str) -> _Order:
        if order is None:
            raise Refusal(
                404,
                "ORDER_NOT_EXIST",
                "未找到订单，请确认订单号是否正确",
                f"No med-ins order {number[:64]!r} for this merchant. If the create call got "
                "no answer, nothing was stored: create it again with the same out_trade_no.",
            )
        if order.mix_pay_status == "MIX_PAY_CREATED":
            self._settle(order, paid=True)  # the patient confirmed while the POS waited
        return order

    def _settle(self, order: _Order, *, paid: bool) -> None:
        if not paid:
            order.mix_pay_status = "MIX_PAY_FAIL"
            return
        order.mix_pay_status = "MIX_PAY_SUCCESS"
        order.paid_time = self._now_text()
        self._notify(
            order.request.callback_url,
            SUCCESS_EVENT,
            "医保混合收款成功",
            ORIGINAL_TYPE,
            msgspec.json.encode(self._answer(order)),
        )

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
        return f"{moment:%Y%m%d%H%M%S}{next(self._serial):016d}"


class _OrderRow(msgspec.Struct, frozen=True, kw_only=True):
    mchid: str
    mix_trade_no: str
    request: wire.MedInsOrderRequest  # as received: payer and relative still encrypted
    fingerprint: str
    mix_pay_status: str
    paid_time: str | None


class MedInsState(msgspec.Struct, frozen=True, kw_only=True):
    orders: list[_OrderRow] = msgspec.field(default_factory=list)  # in the order created
    serial: int = 1  # the next serial of mix_trade_no


def _check_fields(order: wire.MedInsOrderRequest) -> None:
    """Enumerations, and what each ``mix_pay_type`` must and must not carry (PARAM_ERROR)."""
    if order.mix_pay_type not in MIX_PAY_TYPES:
        raise param_error(
            "mix_pay_type", f"mix_pay_type must be one of {', '.join(sorted(MIX_PAY_TYPES))}."
        )
    if order.order_type not in ORDER_TYPES:
        raise param_error(
            "order_type", "order_type must be a documented type (PHARMACY_PAY at a pharmacy)."
        )
    for index, add in enumerate(order.cash_add_detail):
        if add.cash_add_type not in CASH_ADD_TYPES:
            raise param_error(
                f"cash_add_detail[{index}].cash_add_type",
                f"cash_add_type must be one of {', '.join(sorted(CASH_ADD_TYPES))}.",
            )
    for index, reduce in enumerate(order.cash_reduce_detail):
        if reduce.cash_reduce_type not in CASH_REDUCE_TYPES:
            raise param_error(
                f"cash_reduce_detail[{index}].cash_reduce_type",
                f"cash_reduce_type must be one of {', '.join(sorted(CASH_REDUCE_TYPES))}.",
            )
    if order.pay_for_relatives and order.relative is None:
        raise param_error(
            "relative",
            "pay_for_relatives is true: relative (name, id_digest, card_type) is required.",
        )
    if not order.pay_for_relatives and order.relative is not None:
        raise param_error(
            "relative",
            "relative is sent only with pay_for_relatives true; the payer pays for self.",
        )
    kind = order.mix_pay_type
    sent = {name: getattr(order, name) is not None for name in (*INSURANCE_FIELDS, *INSURANCE_FEES)}
    if kind == "CASH_ONLY":
        for name in INSURANCE_FIELDS:
            if sent[name]:
                raise param_error(name, f"{name} is not sent with CASH_ONLY (no insurance order).")
        if sum(getattr(order, name) or 0 for name in INSURANCE_FEES):
            raise param_error(
                "med_ins_cash_fee",
                "With CASH_ONLY the four med_ins_*_fee must sum to 0; the self-pay amount is "
                "wechat_pay_cash_fee, carried in cash_add_detail.",
            )
    else:
        for name in (*INSURANCE_FIELDS, *INSURANCE_FEES):
            if not sent[name]:
                raise param_error(name, f"{name} is required with {kind}.")
    if kind == "INSURANCE_ONLY":
        if order.wechat_pay_cash_fee:
            raise param_error(
                "wechat_pay_cash_fee", "With INSURANCE_ONLY wechat_pay_cash_fee must be 0."
            )
        if order.prepay_id is not None:
            raise param_error("prepay_id", "prepay_id is not sent with INSURANCE_ONLY.")
    else:
        if not order.wechat_pay_cash_fee:
            raise param_error(
                "wechat_pay_cash_fee", f"With {kind} wechat_pay_cash_fee must be more than 0."
            )
        if not order.prepay_id:
            raise param_error(
                "prepay_id", f"With {kind} the self-pay order's prepay_id is required."
            )
    if kind == "CASH_AND_INSURANCE" and not sum(getattr(order, n) or 0 for n in INSURANCE_FEES):
        raise param_error(
            "med_ins_gov_fee",
            "With CASH_AND_INSURANCE the four med_ins_*_fee cannot all be 0; use CASH_ONLY.",
        )
    if order.total_fee <= 0:
        raise param_error("total_fee", "total_fee must be more than 0 fen.")
    if order.med_ins_order_create_time is not None and not _rfc3339(
        order.med_ins_order_create_time
    ):
        raise param_error(
            "med_ins_order_create_time",
            "med_ins_order_create_time must be RFC 3339 with its offset, e.g. 2026-11-23T09:00:00+08:00.",
        )
    if order.geo_location is not None and not _GEO.fullmatch(order.geo_location):
        raise param_error(
            "geo_location", "geo_location must be 'longitude,latitude', e.g. 121.614682,38.914003."
        )
    url = urllib.parse.urlsplit(order.callback_url)
    if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
        raise param_error(
            "callback_url",
            "callback_url must be an absolute http(s) URL without query parameters.",
        )


def _check_amounts(order: wire.MedInsOrderRequest) -> None:
    """The two documented amount rules, in integer fen (RULE_LIMIT)."""
    added = sum(add.cash_add_fee for add in order.cash_add_detail)
    reduced = sum(reduce.cash_reduce_fee for reduce in order.cash_reduce_detail)
    gov, own, other, cash_share = (getattr(order, name) or 0 for name in INSURANCE_FEES)
    wechat = order.wechat_pay_cash_fee or 0
    parts = gov + own + other + wechat + reduced
    if order.total_fee != parts:
        raise Refusal(
            403,
            "RULE_LIMIT",
            "订单总金额校验不通过",
            f"total_fee is {order.total_fee} fen but med_ins_gov_fee + med_ins_self_fee + "
            f"med_ins_other_fee + wechat_pay_cash_fee + cash_reduce_detail make {parts} fen. "
            "Nothing was processed.",
        )
    if wechat != cash_share + added - reduced:
        raise Refusal(
            403,
            "RULE_LIMIT",
            "自费金额校验不通过",
            f"wechat_pay_cash_fee is {wechat} fen but med_ins_cash_fee + cash_add_detail - "
            f"cash_reduce_detail make {cash_share + added - reduced} fen. Nothing was processed.",
        )


def _rfc3339(text: str) -> bool:
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return False
    return "T" in text and moment.tzinfo is not None
