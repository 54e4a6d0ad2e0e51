"""The domain: people, their insurance and accounts, mutual-aid bindings, purchases, quotes.

Value objects are attrs ``@frozen``. Fields that come from callers convert and
validate on construction, so a bad basket fails with ``InvalidInput`` before
anything is sent, and every object in the SDK is well formed by construction.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import re
import unicodedata
from collections.abc import Iterable
from functools import cached_property
from typing import Literal, TypeVar

from attrs import Factory, field, frozen

from gongji.errors import InvalidInput
from gongji.identity import Credential, IdNumber, id_number, optional_id_number
from gongji.money import ZERO, Fen, Rounding


class InsuranceKind(enum.StrEnum):
    EMPLOYEE = "employee"  # 职工医保: has a personal account
    RESIDENT = "resident"  # 居民医保: no personal account in most regions
    NONE = "none"


class InsuranceStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # 暂停/中断: no new benefits


class Relation(enum.StrEnum):
    """The beneficiary's relation to the owner: ``parent`` means the beneficiary is the owner's parent."""

    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    SIBLING = "sibling"
    PATERNAL_GRANDPARENT = "paternal_grandparent"
    MATERNAL_GRANDPARENT = "maternal_grandparent"
    PATERNAL_GRANDCHILD = "paternal_grandchild"
    MATERNAL_GRANDCHILD = "maternal_grandchild"

    @property
    def generations(self) -> int:
        """How many generations the beneficiary stands above (+) or below (-) the owner."""
        return _GENERATIONS[self]


_GENERATIONS = {
    Relation.SPOUSE: 0,
    Relation.SIBLING: 0,
    Relation.PARENT: 1,
    Relation.CHILD: -1,
    Relation.PATERNAL_GRANDPARENT: 2,
    Relation.MATERNAL_GRANDPARENT: 2,
    Relation.PATERNAL_GRANDCHILD: -2,
    Relation.MATERNAL_GRANDCHILD: -2,
}


class BindingStatus(enum.StrEnum):
    PENDING = "pending"  # submitted, under review (1-3 working days)
    ACTIVE = "active"
    REJECTED = "rejected"
    REVOKED = "revoked"


class Category(enum.StrEnum):
    DRUG = "drug"
    MEDICAL_DEVICE = "medical_device"
    VACCINE = "vaccine"
    PHYSICAL_EXAM = "physical_exam"
    PREMIUM = "premium"
    COSMETIC = "cosmetic"
    SUPPLEMENT = "supplement"
    FITNESS = "fitness"
    DAILY_GOODS = "daily_goods"


class Coverage(enum.StrEnum):
    """The national catalogue class: A fully eligible, B partly (self-pay first), C not at all."""

    A = "A"
    B = "B"
    C = "C"


class Purpose(enum.StrEnum):
    MEDICAL = "medical"
    RESIDENT_PREMIUM = "resident_premium"
    VACCINE = "vaccine"
    PHYSICAL_EXAM = "physical_exam"
    SUPPLEMENTARY_INSURANCE = "supplementary_insurance"  # 惠民保, government-guided
    #: A flexibly-employed relative's employee-insurance premium (灵活就业人员职工医保缴费).
    FLEXIBLE_EMPLOYMENT_PREMIUM = "flexible_employment_premium"
    LONG_TERM_CARE = "long_term_care"  # 长期护理保险缴费
    COMMERCIAL_INSURANCE = "commercial_insurance"  # 商业健康保险, where a region allows it


class Setting(enum.StrEnum):
    PHARMACY = "pharmacy"
    OUTPATIENT = "outpatient"


LegSource = Literal["own_account", "mutual_aid"]
OwnerNamedBy = Literal["centre", "plan"]

E = TypeVar("E", bound=enum.StrEnum)


def parse_enum(kind: type[E], value: str | E, what: str) -> E:
    """``value`` as a member of ``kind``, or ``InvalidInput`` listing the accepted values."""
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        accepted = ", ".join(member.value for member in kind)
        raise InvalidInput(
            f"Unknown {what} {str(value)[:40]!r}.", next_step=f"Use one of: {accepted}."
        ) from None


# One named converter per enum: mypy's attrs plugin understands only named functions
# as converters, and a shared factory would leave every such field typed as Any.
def _to_insurance_kind(value: str | InsuranceKind) -> InsuranceKind:
    return parse_enum(InsuranceKind, value, "insurance kind")


def _to_insurance_status(value: str | InsuranceStatus) -> InsuranceStatus:
    return parse_enum(InsuranceStatus, value, "insurance status")


def _to_relation(value: str | Relation) -> Relation:
    return parse_enum(Relation, value, "relation")


def _to_binding_status(value: str | BindingStatus) -> BindingStatus:
    return parse_enum(BindingStatus, value, "binding status")


def _to_category(value: str | Category) -> Category:
    return parse_enum(Category, value, "category")


def _to_coverage(value: str | Coverage) -> Coverage:
    return parse_enum(Coverage, value, "coverage")


def _to_purpose(value: str | Purpose) -> Purpose:
    return parse_enum(Purpose, value, "purpose")


def _to_setting(value: str | Setting) -> Setting:
    return parse_enum(Setting, value, "setting")


def _fen(value: Fen | int) -> Fen:
    return Fen(value)


def _optional_fen(value: Fen | int | None) -> Fen | None:
    return None if value is None else Fen(value)


def _masked_name(name: str) -> str:
    # A surname is enough for a cashier to recognise a family; the full name is personal data.
    return f"{name[:1]}{'*' * (len(name) - 1)}" if name else ""


# ---------------------------------------------------------------- people and accounts


@frozen
class Insurance:
    kind: InsuranceKind = field(converter=_to_insurance_kind)
    status: InsuranceStatus = field(
        default=InsuranceStatus.ACTIVE,
        converter=_to_insurance_status,
    )
    region: str = field(default="")  # 6-digit insurance region (参保地, insuplc_admdvs)
    retired: bool = False

    @region.validator
    def _check_region(self, _attribute: object, value: str) -> None:
        if value and (len(value) != 6 or not value.isdigit()):
            raise InvalidInput(
                f"Insurance region {value[:12]!r} is not a 6-digit administrative code.",
                next_step="Use the region code of the insurance place, e.g. '210200' for Dalian.",
            )

    @property
    def is_active(self) -> bool:
        return self.kind is not InsuranceKind.NONE and self.status is InsuranceStatus.ACTIVE


@frozen
class PersonalAccount:
    """A personal account (个人账户) and its balance as last reported."""

    balance: Fen = field(converter=_fen)

    @balance.validator
    def _check_balance(self, _attribute: object, value: Fen) -> None:
        if value < 0:
            raise InvalidInput(
                "A personal-account balance cannot be negative.",
                next_step="Check the account data from the gateway.",
            )


@frozen(repr=False)
class Person:
    id: IdNumber = field(converter=id_number)
    name: str
    insurance: Insurance
    account: PersonalAccount | None = None

    def __repr__(self) -> str:
        return (
            f"Person(id={self.id!r}, name={_masked_name(self.name)!r}, "
            f"insurance={self.insurance!r}, account={self.account!r})"
        )


@frozen
class Binding:
    """A family mutual-aid binding: ``owner`` lets ``beneficiary`` spend from his account."""

    owner: IdNumber = field(converter=id_number)
    beneficiary: IdNumber = field(converter=id_number)
    relation: Relation = field(converter=_to_relation)
    status: BindingStatus = field(converter=_to_binding_status)
    priority: int = field(default=1)  # 顺位: lower is drawn first
    per_transaction_limit: Fen | None = field(default=None, converter=_optional_fen)

    @priority.validator
    def _check_priority(self, _attribute: object, value: int) -> None:
        if type(value) is not int or value < 1:
            raise InvalidInput(
                f"Binding priority must be a whole number from 1, got {value!r}.",
                next_step="Number the owner's accounts 1, 2, 3 in the order they are drawn.",
            )

    @per_transaction_limit.validator
    def _check_limit(self, _attribute: object, value: Fen | None) -> None:
        if value is not None and value < 0:
            raise InvalidInput(
                "A per-transaction limit cannot be negative.",
                next_step="Set a limit of 0 or more, or none for no limit.",
            )


# ---------------------------------------------------------------- chronic and special diseases

#: A disease code as the centre registers it (``opsp_dise_code``, sent as ``dise_codg``):
#: visible ASCII, matched by the centre byte for byte.
_DISEASE_CODE = re.compile(r"[!-~]{1,30}", re.ASCII)


def _disease_code(value: str) -> str:
    if not isinstance(value, str) or (value and not _DISEASE_CODE.fullmatch(value)):
        raise InvalidInput(
            "A chronic or special disease code must be 1 to 30 visible ASCII characters.",
            next_step="Copy the code of the disease the patient is registered for "
            "(client.chronic_diseases(credential) lists them); nothing was sent.",
        )
    return value


def _registered_code(value: str) -> str:
    if value == "":
        raise InvalidInput(
            "A chronic or special disease registration needs its code.",
            next_step="Give the code the centre registered (opsp_dise_code, 5301).",
        )
    return _disease_code(value)


@frozen
class ChronicDisease:
    """A chronic or special outpatient disease (门诊慢特病) the centre registered for a
    patient (5301): a sale settled under it is ``med_type`` 14 and names it
    (``dise_codg``, ``dise_name``). ``begins``/``ends`` are the registration's dates
    (``begndate``/``enddate``, Beijing calendar days; None: not given)."""

    code: str = field(converter=_registered_code)
    name: str = ""
    begins: datetime.date | None = None
    ends: datetime.date | None = None

    def covers(self, day: datetime.date) -> bool:
        """Whether the registration is in force on ``day`` (both dates count)."""
        return (self.begins is None or self.begins <= day) and (
            self.ends is None or day <= self.ends
        )

    @property
    def label(self) -> str:
        """What the cashier reads: the code and the centre's name for it."""
        return f"{self.code} {self.name}".strip()


# ---------------------------------------------------------------- the purchase


#: The most one purchase may cost: 10 million yuan, far above any pharmacy or outpatient
#: bill, and within every wire format it crosses (WeChat Pay counts fen in an int32, the
#: journal in an int64). Above it, a typo or an attack: refused before anything is sent.
MAX_PURCHASE_TOTAL = Fen(10_000_000_00)
#: The most units of one line.
MAX_QUANTITY = 100_000
#: The most lines of one basket: a pharmacy's are tens, an outpatient bill's hundreds.
#: Above it, a loop or an attack, which would go out as a body of megabytes: refused.
MAX_LINES = 500

#: A line item's code: catalogue codes (医保目录编码) and SKUs are visible ASCII.
_ITEM_CODE = re.compile(r"[!-~]{1,64}", re.ASCII)
_NATIONAL_CODE = re.compile(r"[!-~]{1,50}", re.ASCII)  # med_list_codg, C 50
_PRESCRIPTION = re.compile(r"[!-~]{1,30}", re.ASCII)  # rxno, C 30


#: A split-pack line (拆零) sells part of a pack: its quantity has at most this many decimals
#: (``cnt`` is N 16,4 on the national wire).
QUANTITY_DECIMALS = 4
_QUANTITY_SCALE = 10**QUANTITY_DECIMALS


def _quantity(value: int | decimal.Decimal) -> int | decimal.Decimal:
    """A whole number stays an ``int``; a split-pack quantity is a ``Decimal``. Strings and
    floats are refused by the validator: 0.1 of a pack is not 0.1 in binary."""
    if isinstance(value, decimal.Decimal) and value.is_finite() and value == value.to_integral():
        return int(value)
    return value


#: A drug traceability code (追溯码) as scanned: the 20-digit 码上放心 code, an enterprise
#: code or a GS1 code's text; the national interface carries up to 30 characters.
_TRACE_CODE = re.compile(r"[!-~]{1,30}", re.ASCII)


def _trace_codes(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    codes = tuple(value)
    for code in codes:
        if not isinstance(code, str) or not _TRACE_CODE.fullmatch(code):
            raise InvalidInput(
                "A traceability code (追溯码) must be 1 to 30 visible ASCII characters.",
                next_step="Scan the code on the pack again; nothing was sent.",
            )
    if len(set(codes)) != len(codes):
        raise InvalidInput(
            "The same traceability code (追溯码) was scanned twice on one line.",
            next_step="Each pack has its own code: scan every pack once; nothing was sent.",
        )
    return codes


@frozen
class Packs:
    """What the till knows of the packs a drug line sells: the traceability codes (追溯码)
    scanned from them, one per pack, and the stock facts the sales upload (3505) names."""

    codes: tuple[str, ...] = field(default=(), converter=_trace_codes)
    batch: str = ""  # the pharmacy's stock batch serial (fixmedins_bchno)
    lot: str = ""  # the maker's lot number (manu_lotnum)
    made_on: datetime.date | None = None  # manu_date
    expires_on: datetime.date | None = None  # expy_end


@frozen
class LineItem:
    """One line of a basket.

    ``code`` is the pharmacy's own code for the item (its SKU, 医药机构目录编码);
    ``national_code`` the national catalogue code (医保目录编码) it is mapped to, which is
    what the centre prices and classes: the POS gives it until a catalogue fills it in
    (empty: the item's own code is taken as both). ``quantity`` is a whole number of units,
    or, for a split pack (拆零), a ``Decimal`` with at most four decimals: the line's money
    is then ``unit_price × quantity`` rounded half up to a whole fen, and stays exact at the
    line total. ``prescription`` is the prescription number (``rxno``) of a prescription
    drug, ``outside_prescription`` True when that prescription came from outside
    (``rx_circ_flag``).
    """

    code: str = field()
    name: str = field()
    unit_price: Fen = field(converter=_fen)
    quantity: int | decimal.Decimal = field(converter=_quantity)
    category: Category = field(default=Category.DRUG, converter=_to_category)
    coverage: Coverage = field(default=Coverage.A, converter=_to_coverage)
    national_code: str = field(default="", kw_only=True)
    prescription: str = field(default="", kw_only=True)
    outside_prescription: bool = field(default=False, kw_only=True)
    #: The packs sold: their traceability codes and stock facts (drugs at a pharmacy).
    packs: Packs | None = None

    @code.validator
    def _check_code(self, _attribute: object, value: str) -> None:
        if not isinstance(value, str) or not _ITEM_CODE.fullmatch(value):
            # Codes are matched by the centre byte for byte: a look-alike letter or an
            # invisible character would name another item, so only visible ASCII is taken.
            raise InvalidInput(
                "A line item needs a code of 1 to 64 visible ASCII characters (no spaces).",
                next_step="Use the item's catalogue code (医保目录编码) or your own SKU.",
            )

    @national_code.validator
    def _check_national_code(self, _attribute: object, value: str) -> None:
        if not isinstance(value, str) or (value and not _NATIONAL_CODE.fullmatch(value)):
            raise InvalidInput(
                f"Item {self.code!r} has a national code that is not 1 to 50 visible ASCII characters.",
                next_step="Copy the national catalogue code (医保目录编码, e.g. a 23-character X... "
                "or Z... drug code) from the catalogue (`gongji catalogue find`), or leave it empty.",
            )

    @prescription.validator
    def _check_prescription(self, _attribute: object, value: str) -> None:
        if not isinstance(value, str) or (value and not _PRESCRIPTION.fullmatch(value)):
            raise InvalidInput(
                f"Item {self.code!r} has a prescription number that is not 1 to 30 visible ASCII characters.",
                next_step="Type the prescription number (处方号) as printed, or leave it empty.",
            )

    @outside_prescription.validator
    def _check_outside(self, _attribute: object, value: bool) -> None:
        if type(value) is not bool:
            raise InvalidInput(
                f"Item {self.code!r}: outside_prescription must be True or False.",
                next_step="Pass outside_prescription=True for a prescription from another institution.",
            )
        if value and not self.prescription:
            raise InvalidInput(
                f"Item {self.code!r} is sold on an outside prescription without its number.",
                next_step="Give the prescription number (prescription=...) of the outside prescription.",
            )

    @name.validator
    def _check_name(self, _attribute: object, value: str) -> None:
        if not isinstance(value, str) or len(value) > 200:
            raise InvalidInput(
                "A line item's name must be text of at most 200 characters.",
                next_step="Shorten the item name.",
            )
        if any(unicodedata.category(char)[0] == "C" for char in value):
            # Control, format (RTL override, zero-width), private-use and unassigned
            # characters: a name is printed on receipts and shown to the cashier as it is.
            raise InvalidInput(
                f"Item {self.code!r} has an invisible or control character in its name.",
                next_step="Type the name again with visible characters only.",
            )

    @unit_price.validator
    def _check_price(self, _attribute: object, value: Fen) -> None:
        if value < 0:
            raise InvalidInput(
                f"Item {self.code!r} has a negative unit price.",
                next_step="Enter the price as a positive amount of fen; refunds go through refund().",
            )
        if value > MAX_PURCHASE_TOTAL:
            raise InvalidInput(
                f"Item {self.code!r} costs {value.to_yuan()} yuan a unit, above the "
                f"{MAX_PURCHASE_TOTAL.to_yuan()} yuan a purchase may cost.",
                next_step="Check the price (entered in fen: Fen(1250) is 12.50 yuan).",
            )

    @quantity.validator
    def _check_quantity(self, _attribute: object, value: int | decimal.Decimal) -> None:
        if isinstance(value, decimal.Decimal):
            exponent = value.as_tuple().exponent if value.is_finite() else None
            if (
                not isinstance(exponent, int)
                or exponent < -QUANTITY_DECIMALS
                or not 0 < value <= MAX_QUANTITY
            ):
                raise InvalidInput(
                    f"Item {self.code!r} has quantity {str(value)[:20]!r}; part of a pack is a "
                    f"number above 0 with at most {QUANTITY_DECIMALS} decimals.",
                    next_step="Enter a split-pack quantity as decimal.Decimal('0.25') "
                    "(a quarter of the pack), never as a float.",
                )
            return
        if type(value) is not int or not 0 < value <= MAX_QUANTITY:
            raise InvalidInput(
                f"Item {self.code!r} has quantity {str(value)[:20]!r}; it must be a whole "
                f"number from 1 to {MAX_QUANTITY}, or part of a pack as a Decimal.",
                next_step="Remove the line instead of entering zero, and enter whole units.",
            )

    @property
    def split_pack(self) -> bool:
        """Part of a pack is sold (拆零)."""
        return isinstance(self.quantity, decimal.Decimal)

    @property
    def listed_code(self) -> str:
        """The national catalogue code the centre is sent (the item's own code until mapped)."""
        return self.national_code or self.code

    @property
    def amount(self) -> Fen:
        """The line's money: exact fen; a split pack's rounded half up once, at the line."""
        if isinstance(self.quantity, int):
            return self.unit_price * self.quantity
        scaled = int(self.quantity.scaleb(QUANTITY_DECIMALS))
        return self.unit_price.times_ratio(scaled, _QUANTITY_SCALE, Rounding.HALF_UP)


def _items(value: Iterable[LineItem]) -> tuple[LineItem, ...]:
    items = tuple(value)
    if not items:
        raise InvalidInput(
            "The basket is empty.", next_step="Add at least one line item before settling."
        )
    if len(items) > MAX_LINES:
        raise InvalidInput(
            f"The basket has {len(items)} lines, more than the {MAX_LINES} one purchase may have.",
            next_step="Merge repeated lines into one with a quantity, or split the bill; "
            "nothing was sent.",
        )
    for item in items:
        if not isinstance(item, LineItem):
            raise InvalidInput(
                f"Basket entries must be gongji.LineItem, got {type(item).__name__}.",
                next_step="Build each line with gongji.LineItem(code=..., unit_price=Fen(...), quantity=...).",
            )
    total = sum((item.amount for item in items), Fen(0))
    if total > MAX_PURCHASE_TOTAL:
        raise InvalidInput(
            f"The basket costs {total.to_yuan()} yuan, above the "
            f"{MAX_PURCHASE_TOTAL.to_yuan()} yuan one purchase may cost.",
            next_step="Check the prices and quantities, or split the bill; nothing was sent.",
        )
    return items


def _fee_lines(value: Iterable[LineItem]) -> tuple[LineItem, ...]:
    return tuple(value)


class DiagnosisKind(enum.StrEnum):
    """The national ``diag_type``: how a diagnosis is written."""

    WESTERN = "1"  # 西医诊断
    TCM_DISEASE = "2"  # 中医主病诊断
    TCM_SYNDROME = "3"  # 中医主证诊断


def _to_diagnosis_kind(value: DiagnosisKind | str) -> DiagnosisKind:
    return parse_enum(DiagnosisKind, value, "diagnosis kind")


def _text(value: str, what: str, longest: int, next_step: str) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        raise InvalidInput(f"{what} must be 1 to {longest} characters.", next_step=next_step)


@frozen
class Diagnosis:
    """One diagnosis of an outpatient visit, as 2203 uploads it (``diseinfo``): the
    national diagnosis code (``diag_code``) and its name; the first is the main one."""

    code: str = field()
    name: str = field()
    kind: DiagnosisKind = field(default=DiagnosisKind.WESTERN, converter=_to_diagnosis_kind)

    @code.validator
    def _check_code(self, _attribute: object, value: str) -> None:
        _text(
            value,
            "A diagnosis code (diag_code)",
            20,
            "Use the national code of the "
            "diagnosis (ICD-10 national edition, e.g. 'I10.x00'); nothing was sent.",
        )

    @name.validator
    def _check_name(self, _attribute: object, value: str) -> None:
        _text(
            value,
            "A diagnosis name (diag_name)",
            100,
            "Write the diagnosis as the doctor did, e.g. '高血压'; nothing was sent.",
        )


def _diagnoses(value: Iterable[Diagnosis]) -> tuple[Diagnosis, ...]:
    found = tuple(value)
    for diagnosis in found:
        if not isinstance(diagnosis, Diagnosis):
            raise InvalidInput(
                f"A visit's diagnoses must be gongji.Diagnosis, got {type(diagnosis).__name__}.",
                next_step="Build each with gongji.Diagnosis(code=..., name=...); nothing was sent.",
            )
    return found


@frozen
class Visit:
    """An outpatient visit registered at the centre (2201), its diagnoses (2203) and the
    fee lines that stand uploaded for it (2204; 2205 withdraws them).

    ``client.register_visit`` makes one; ``client.diagnose``, ``client.upload_fees`` and
    ``client.withdraw_fees`` return it as the centre now holds it; ``Purchase.for_visit``
    settles it. ``visit_id`` is the centre's ``mdtrt_id``: a billing system keeps the
    visit's fields, and may make the ``Visit`` again from them to settle it later or from
    another till. ``items`` are the standing lines in the order uploaded, all in one charge
    batch (``batch``, the ``chrg_bchno`` the settlement names); ``uploaded`` counts every
    line ever uploaded for the visit, withdrawn ones too, so that a new line's number
    (``feedetl_sn``) is never one the centre saw before.
    """

    visit_id: str = field()
    psn_no: str = field()
    patient_id: IdNumber = field(converter=id_number)
    department: str = ""  # dept_name
    doctor: str = ""  # dr_name
    department_code: str = ""  # dept_code
    doctor_code: str = ""  # atddr_no, the doctor's national code
    outpatient_no: str = ""  # ipt_otp_no, the institution's own outpatient number
    items: tuple[LineItem, ...] = field(default=(), converter=_fee_lines)
    department_category: str = ""  # caty, the national 科别 code (e.g. "A03" internal medicine)
    begins_at: datetime.datetime | None = None  # begntime of the registration
    diagnoses: tuple[Diagnosis, ...] = field(default=(), converter=_diagnoses)
    batch: str = ""  # chrg_bchno of the standing lines; "" before the first upload
    #: The patient's region of insurance as 1101 gave it (``insuplc_admdvs`` of every
    #: message for the visit): kept, so a visit made again elsewhere still names it.
    insured_in: str = ""
    uploaded: int = field(default=Factory(lambda self: len(self.items), takes_self=True))

    @visit_id.validator
    def _check_visit_id(self, _attribute: object, value: str) -> None:
        if not isinstance(value, str) or not value.strip() or len(value) > 30:
            raise InvalidInput(
                "A visit needs the centre's visit id (mdtrt_id) of 1 to 30 characters.",
                next_step="Register the visit with client.register_visit(...) and keep the visit_id it returns.",
            )

    @items.validator
    def _check_items(self, _attribute: object, value: tuple[LineItem, ...]) -> None:
        if value:
            _items(value)

    @uploaded.validator
    def _check_uploaded(self, _attribute: object, value: int) -> None:
        if type(value) is not int or value < len(self.items):
            raise InvalidInput(
                f"A visit's uploaded count ({str(value)[:12]}) is below its {len(self.items)} lines.",
                next_step="Keep the uploaded count client.upload_fees(...) returned with the visit.",
            )

    @property
    def total(self) -> Fen:
        """What the fee lines uploaded so far come to."""
        return sum((item.amount for item in self.items), Fen(0))


@frozen
class Purchase:
    """What the POS asks to settle. ``patient_id`` None means the credential's holder.

    An outpatient purchase (``setting="outpatient"``) settles a registered ``visit``
    whose fee lines were uploaded; its ``items`` are those lines (``Purchase.for_visit``).
    """

    credential: Credential = field()
    items: tuple[LineItem, ...] = field(converter=_items)
    patient_id: IdNumber | None = field(default=None, converter=optional_id_number)
    agent_id: IdNumber | None = field(default=None, converter=optional_id_number)
    purpose: Purpose = field(default=Purpose.MEDICAL, converter=_to_purpose)
    setting: Setting = field(default=Setting.PHARMACY, converter=_to_setting)
    visit: Visit | None = field(default=None)
    #: The patient asked the cashier to draw on relatives' accounts (seed 002 l.19: "告知收费人员
    #: 使用共济账户支付"). Off unless asked: a declined sale draws on no relative's account.
    use_mutual_aid: bool = field(default=False)
    #: The code of the chronic or special disease (门诊慢特病) the patient is registered for,
    #: to settle the purchase under it (``med_type`` 14); "" for an ordinary sale. Checked
    #: against the centre's registrations (5301) before anything is charged.
    chronic_disease: str = field(default="", converter=_disease_code, kw_only=True)

    @use_mutual_aid.validator
    def _check_use_mutual_aid(self, _attribute: object, value: bool) -> None:
        if type(value) is not bool:
            raise InvalidInput(
                f"use_mutual_aid must be True or False, got {str(value)[:20]!r}.",
                next_step="Pass use_mutual_aid=True when the patient asks to pay from a relative's account.",
            )

    @credential.validator
    def _check_credential(self, _attribute: object, value: Credential) -> None:
        if not isinstance(value, Credential):
            raise InvalidInput(
                "The purchase needs a credential.",
                next_step="Use gongji.Credential.e_voucher(token), .id_card(number) or .social_card(number, card_sn=...).",
            )

    @visit.validator
    def _check_visit(self, _attribute: object, visit: Visit | None) -> None:
        # An outpatient purchase without a visit is refused by the client (the mock centre
        # builds such purchases from settlement messages that carry their own lines).
        if visit is None:
            return
        if not isinstance(visit, Visit):
            raise InvalidInput(
                f"A purchase's visit must be a gongji.Visit, got {type(visit).__name__}.",
                next_step="Pass the Visit that client.register_visit(...) and client.upload_fees(...) returned.",
            )
        if self.setting is not Setting.OUTPATIENT:
            raise InvalidInput(
                f"Visit {visit.visit_id} is an outpatient visit, but the purchase is a {self.setting.value} sale.",
                next_step="Settle a visit with setting='outpatient' (gongji.Purchase.for_visit does); nothing was sent.",
            )
        if self.patient_id is not None and self.patient_id != visit.patient_id:
            raise InvalidInput(
                f"Visit {visit.visit_id} was registered for {visit.patient_id.masked}, not for the patient {self.patient_id.masked}.",
                next_step="Settle each patient's own visit; nothing was sent.",
            )
        if not visit.items:
            raise _no_fees(visit)
        if self.items != visit.items:
            raise InvalidInput(
                f"The purchase's {len(self.items)} lines ({self.total}) differ from the "
                f"{len(visit.items)} fee lines uploaded for visit {visit.visit_id} ({visit.total}).",
                next_step="Settle exactly the lines uploaded (gongji.Purchase.for_visit does), or upload the "
                "missing lines first; nothing was sent.",
            )

    @classmethod
    def for_visit(
        cls,
        visit: Visit,
        credential: Credential,
        *,
        agent_id: IdNumber | str | None = None,
        purpose: Purpose | str = Purpose.MEDICAL,
        use_mutual_aid: bool = False,
        chronic_disease: str = "",
    ) -> Purchase:
        """The settlement of an outpatient ``visit``: its uploaded lines, for its patient.

        ``credential`` is the one presented now; it must be the patient's own (R1).
        ``chronic_disease``: the registered disease's code, to settle the visit under it.
        """
        if not isinstance(visit, Visit):
            raise InvalidInput(
                f"Purchase.for_visit needs a gongji.Visit, got {type(visit).__name__}.",
                next_step="Pass the Visit that client.register_visit(...) and client.upload_fees(...) returned.",
            )
        if not visit.items:
            raise _no_fees(visit)
        return cls(
            credential=credential,
            items=visit.items,
            patient_id=visit.patient_id,
            agent_id=agent_id,
            purpose=purpose,
            setting=Setting.OUTPATIENT,
            visit=visit,
            use_mutual_aid=use_mutual_aid,
            chronic_disease=chronic_disease,
        )

    @cached_property
    def total(self) -> Fen:
        return sum((item.amount for item in self.items), Fen(0))


def _no_fees(visit: Visit) -> InvalidInput:
    return InvalidInput(
        f"No fee lines were uploaded for visit {visit.visit_id}.",
        next_step="Upload them with client.upload_fees(visit, items) and settle the Visit it returns; nothing was sent.",
    )


# ---------------------------------------------------------------- the answer


@frozen
class Leg:
    """One account's share of a settlement. Cash is never a leg: it is what is left."""

    source: LegSource
    #: The account owner; masked in every repr. None for mutual aid whose owner the centre
    #: did not report (a real centre reports only the amount, ``acct_mulaid_pay``).
    payer_id: IdNumber | None
    amount: Fen
    relation: Relation | None = None  # for mutual aid: the patient's relation to the owner
    #: Who named the owner: the centre, or the local plan (bindings known outside the
    #: interface) explaining a centre that reported only the amount.
    named_by: OwnerNamedBy = "centre"


@frozen
class Refusal:
    """Why an account does not pay (or, for R1, why the purchase cannot go on).

    ``reason`` is a sentence a cashier can read aloud; ``reason_zh`` the same in Chinese.
    ``owner_id`` is the refused account's owner (the patient himself for his own account).
    """

    rule: str
    reason: str
    reason_zh: str = ""
    owner_id: IdNumber | None = None


@frozen
class RuleWarning:
    """Something unusual that does not stop anyone paying: shown to the cashier and kept
    on the receipt (an R4 age gap that is possible but rare, such as a young step-parent).
    ``reason`` and ``reason_zh`` are sentences a cashier can read aloud."""

    rule: str
    reason: str
    reason_zh: str = ""
    owner_id: IdNumber | None = None


@frozen
class Receipt:
    """A settled purchase. The amounts are the centre's, not the local plan's."""

    settlement_id: str
    key: str
    total: Fen
    fund: Fen
    legs: tuple[Leg, ...]
    cash: Fen
    refusals: tuple[Refusal, ...] = ()
    agent_id: IdNumber | None = None
    divergence: tuple[str, ...] = ()  # how the centre's split differs from the local plan
    purpose: Purpose = Purpose.MEDICAL  # a resident_premium receipt is a premium receipt
    cash_channel: str = ""  # "wechatpay", "alipay", "counter"; empty when nothing was cash
    transaction_id: str = ""  # the channel's id of the cash payment
    warnings: tuple[RuleWarning, ...] = ()  # the quote's warnings, kept for the record
    #: The cash part: cash-only goods (cosmetics, daily goods...) rung up with the sale and
    #: never sent to the centre. Part of ``total`` and of ``cash``, collected together.
    cash_part: Fen = field(default=ZERO, converter=_fen)
    #: The registered chronic or special disease the sale was settled under (med_type 14).
    disease: ChronicDisease | None = None

    @property
    def insured_total(self) -> Fen:
        """The part the insurance centre settled: ``total`` without the cash part."""
        return self.total - self.cash_part

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.cash_part <= self.cash:
            raise InvalidInput(
                f"A receipt's cash part ({self.cash_part}) must be within its cash ({self.cash}).",
                next_step="This is a bug in the settlement flow; report it with the basket.",
            )
        if self.total != self.fund + sum(leg.amount for leg in self.legs) + self.cash:
            raise InvalidInput(
                f"A receipt of {self.total} does not add up: fund + legs + cash differ from the total.",
                next_step="The centre's split is inconsistent; run reconcile() and contact the centre.",
            )


# ---------------------------------------------------------------- the cash share

#: How the cash share is paid: ``"counter"`` (at the till), or the name of the payment
#: channel that collects it: ``"wechatpay"``, ``"alipay"``, or a channel a plugin registers
#: through ``gongji_register_adapters`` (configured under ``[channels.<name>]``).
CashKind = str
_CHANNEL_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}", re.ASCII)


@frozen
class Cash:
    """How the cash share is collected: a payment code scanned at the till, or the till itself.

    The payment code is a bearer credential for one payment; it never appears in a repr.
    Its shape says its channel (WeChat Pay: 18 digits from 10-15; Alipay: 16-24 digits
    from 25-30), so a code scanned under the wrong button is refused before anything is sent.
    A plugin's channel (``Cash.channel``) checks its own codes.
    """

    kind: CashKind
    auth_code: str = field(default="", repr=False)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.kind, str) or not _CHANNEL_NAME.fullmatch(self.kind):
            raise InvalidInput(
                f"Unknown way to pay the cash share: {str(self.kind)[:20]!r}.",
                next_step="Use gongji.Cash.wechat(code), gongji.Cash.alipay(code), gongji.Cash.counter() "
                "or gongji.Cash.channel(name, code) for a channel a plugin adds.",
            )
        shape = _CODE_SHAPES.get(self.kind)
        if shape is not None and not shape[1].fullmatch(self.auth_code or ""):
            raise InvalidInput(
                f"That is not a payment code for {shape[0]}.",
                next_step="Scan the payer's code again, under the button of the app it came from; nothing was charged.",
            )
        if shape is None and self.kind != "counter" and not self.auth_code:
            raise InvalidInput(
                f"Paying through {self.kind} needs the payer's payment code.",
                next_step="Scan the payer's code again; nothing was charged.",
            )

    @classmethod
    def wechat(cls, auth_code: str) -> Cash:
        return cls("wechatpay", auth_code)

    @classmethod
    def alipay(cls, auth_code: str) -> Cash:
        return cls("alipay", auth_code)

    @classmethod
    def counter(cls) -> Cash:
        """Paid at the till (cash, bank card): gongji records the amount and collects nothing."""
        return cls("counter")

    @classmethod
    def channel(cls, name: str, auth_code: str) -> Cash:
        """Collected through the payment channel a plugin registered as ``name``; the client
        must have it among its channels (``[channels.<name>]``) or the sale is refused
        before anything is sent."""
        return cls(name, auth_code)


_CODE_SHAPES: dict[str, tuple[str, re.Pattern[str]]] = {
    "wechatpay": ("WeChat Pay", re.compile(r"1[0-5][0-9]{16}", re.ASCII)),
    "alipay": ("Alipay", re.compile(r"(2[5-9]|30)[0-9]{14,22}", re.ASCII)),
}
