"""Who is who: identity numbers (GB 11643) and the credentials a patient presents.

Three kinds of people are insured with an 18-character GB 11643 number (17 digits, then
the MOD 11-2 check character), and all three buy at a pharmacy:

- residents, with the resident ID card: 6-digit region, birth date, order code;
- Hong Kong, Macau and Taiwan residents living on the mainland, with a residence permit
  (港澳台居民居住证, since 2018): the same layout, with the region 810000, 820000 or 830000;
- foreigners with permanent residence, with the 2023 card (外国人永久居留身份证, issued
  since 2023-12-01): ``9``, the 2-digit province of issue, a 3-digit nationality code,
  then birth date, order code and check character as in GB 11643.

An ``IdNumber`` is a ``str`` holding the full 18-character number, so it compares
and hashes like the plain string an integrator has in hand. Everything that
turns it into display text (``repr``, ``str``, f-strings, ``%s``) shows only the
masked form (first 6 + last 4): a full ID number must never reach a log, an
error or a receipt by accident. ``.number`` is the deliberate way to the digits.
"""

from __future__ import annotations

import datetime
import enum
import functools
import re
from typing import Literal

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from gongji import clock as beijing
from gongji.errors import InvalidInput

Sex = Literal["male", "female"]

#: An e-voucher token: visible ASCII, no space (the centres' tokens are letters, digits, - _).
_TOKEN = re.compile(r"[!-~]{1,512}", re.ASCII)
#: A social-security card's serial number: letters and digits as printed on the card.
_CARD_SN = re.compile(r"[0-9A-Za-z]{1,64}", re.ASCII)


def mask_id(number: str) -> str:
    """``210202198503170036`` -> ``210202********0036``; short strings are hidden whole."""
    if len(number) < 12:
        return "*" * len(number)
    return f"{number[:6]}{'*' * (len(number) - 10)}{number[-4:]}"


_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def scrub_ids(text: str) -> str:
    """Free text (a gateway's words) with every full ID number in it masked."""
    return _ID_LIKE.sub(lambda found: mask_id(found.group(0)), text)


def mask_secret(secret: str) -> str:
    """A token or key for display: its length only, never a character of it."""
    return f"<{len(secret)} chars hidden>"


_REASONS = {
    "length": "must have 18 digits (or the legacy 15)",
    "format": "must be digits, with X allowed only as the last character",
    "checksum": "has a wrong check digit (the last character)",
    "birth": "has an impossible birth date",
    "region": "starts with an unknown province code",
}

#: The region codes of the residence permits of Hong Kong, Macau and Taiwan residents.
#: (Taiwan's permits use 830000, not the province code 71 that python-stdnum knows.)
PERMIT_REGIONS = frozenset({"810000", "820000", "830000"})
#: The first character of a foreigner's permanent-residence number (2023 card).
FOREIGNER_MARK = "9"


@functools.lru_cache(maxsize=4096)
def _normalise(text: str) -> str:
    """Validate with python-stdnum and return the 18-digit form; legacy 15 digits are upgraded.

    Not ``ric.validate``: it also requires the county code to have existed in the
    holder's birth year, but codes are assigned when the card is issued, so it
    refuses every real Dalian (210202) resident born before 1983. We check the
    checksum, the birth date and the province, which hold for every real number.
    """
    compact = ric.compact(text)
    legacy = len(compact) == 15
    if legacy and compact.isascii() and compact.isdigit():
        # GB 11643-1989 numbers: 6 region + YYMMDD + 3 order. Their holders were born in 19xx.
        body = f"{compact[:6]}19{compact[6:]}"
        compact = body + ric.calc_check_digit(body + "0")
    problem = None
    if len(compact) != 18:
        problem = "length"
    elif (
        not compact.isascii()
        or not compact[:17].isdigit()
        or not (compact[17].isdigit() or compact[17] == "X")
    ):
        problem = "format"
    elif compact[17] != ric.calc_check_digit(compact):
        problem = "checksum"
    elif not _birth_date_ok(compact):
        problem = "birth"
    elif not _issuer_known(compact, legacy=legacy):
        problem = "region"
    if problem:
        raise InvalidInput(
            f"The ID number {mask_id(compact)} {_REASONS[problem]}.",
            next_step="Re-enter the number from the ID card; nothing was sent or charged.",
        )
    return compact


def _issuer_known(number: str, *, legacy: bool) -> bool:
    """Whether the leading digits name who issued the number: a province, a residence
    permit's region, or (2023 card) ``9`` and the province of issue. Legacy 15-digit
    numbers are resident numbers only."""
    if number[:6] in PERMIT_REGIONS:
        return True
    if number.startswith(FOREIGNER_MARK) and not legacy:
        return _province_known(number[1:3])
    return _province_known(number[:2])


#: The province-level codes of GB/T 2260 (the first two digits of a region code). Written
#: out rather than read from python-stdnum's region database at each start: loading that
#: database costs a preview about 20 ms, and a test keeps this set equal to it.
# fmt: off
PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
})
# fmt: on


def _province_known(code: str) -> bool:
    return code in PROVINCES


def _birth_date_ok(number: str) -> bool:
    try:
        born = ric.get_birth_date(number)
    except ValidationError:
        return False
    return datetime.date(1880, 1, 1) <= born <= beijing.today()


@functools.lru_cache(maxsize=4096)
def _birth_date(yyyymmdd: str) -> datetime.date:
    return datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))


class IdNumber(str):
    """An 18-character identity number (resident ID, residence permit of a Hong Kong,
    Macau or Taiwan resident, or a foreigner's 2023 permanent-residence number),
    validated; displayed masked."""

    __slots__ = ()

    def __new__(cls, text: str) -> IdNumber:
        if isinstance(text, IdNumber):
            return text
        if not isinstance(text, str):
            raise InvalidInput(
                f"An ID number must be a string, got {type(text).__name__}.",
                next_step="Pass the 18-digit number as text, e.g. '210202198503170036'.",
            )
        return super().__new__(cls, _normalise(text))

    @property
    def number(self) -> str:
        """The full number, for the wire. Never log or display it."""
        return str.__str__(self)

    @property
    def masked(self) -> str:
        return mask_id(self.number)

    @property
    def birth_date(self) -> datetime.date:
        return _birth_date(self[6:14])

    @property
    def sex(self) -> Sex:
        # GB 11643: the 17th digit (order code) is odd for men, even for women.
        return "male" if int(self[16]) % 2 else "female"

    @property
    def region(self) -> str:
        """The 6-digit administrative code of first registration (not the insurance region);
        810000 / 820000 / 830000 for a residence permit. A foreigner's number has none: its
        first 6 characters are ``9``, the province of issue and the nationality."""
        return self[:6]

    @property
    def is_foreigner(self) -> bool:
        """A foreigner's permanent-residence number (2023 card), not a resident's."""
        return self.startswith(FOREIGNER_MARK)

    @property
    def is_residence_permit(self) -> bool:
        """The residence permit of a Hong Kong, Macau or Taiwan resident."""
        return self[:6] in PERMIT_REGIONS

    def age_on(self, day: datetime.date) -> int:
        """Completed years of age on ``day``."""
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def __repr__(self) -> str:
        return f"IdNumber('{self.masked}')"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __reduce__(self) -> tuple[type[IdNumber], tuple[str]]:
        return (IdNumber, (self.number,))


def id_number(value: str | IdNumber) -> IdNumber:
    """Converter for attrs fields: a validated ``IdNumber`` from a string."""
    return IdNumber(value)


def optional_id_number(value: str | IdNumber | None) -> IdNumber | None:
    return None if value is None else IdNumber(value)


class CredentialKind(enum.StrEnum):
    """What the patient presented; the values are the national ``mdtrt_cert_type`` codes."""

    E_VOUCHER = "01"  # 医保电子凭证: the QR text scanned, then the ecToken it decodes to
    ID_NUMBER = "02"  # resident ID card
    SOCIAL_CARD = "03"  # social-security card: its card number and card_sn


#: A social-security card number (社会保障卡卡号) as a card reader gives it: letters and digits.
_CARD_NO = re.compile(r"[0-9A-Za-z]{1,50}", re.ASCII)
#: A 6-digit administrative-division code (the card's region, the e-voucher's insuOrg).
_REGION = re.compile(r"[0-9]{6}", re.ASCII)


class Credential:
    """A credential as presented at the till. Build it with the class methods.

    ``value`` is what goes out as ``mdtrt_cert_no`` once the credential is ready: the
    ``ecToken`` of a decoded e-voucher (``Credential.e_voucher`` holds the scanned QR text
    until an e-voucher decoder turns it into a token), the ID number, or the
    social-security card's number. ``holder`` is the ID number the credential itself
    names (the ID card's, the one a card reader or the e-voucher decode gives), and
    ``region`` its region of insurance where it says one. Its repr hides the QR text,
    the token and the card number, and masks ID numbers.
    """

    __slots__ = ("card_sn", "decoded", "holder", "kind", "region", "value")

    kind: CredentialKind
    value: str  # the QR text or the token, the full ID number, or the card number
    card_sn: str | None
    holder: IdNumber | None
    region: str
    decoded: bool  # an e-voucher's value is its ecToken (not the QR text)

    def __init__(
        self,
        kind: CredentialKind,
        value: str,
        card_sn: str | None = None,
        *,
        holder: IdNumber | None = None,
        region: str = "",
        decoded: bool = False,
    ) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "card_sn", card_sn)
        object.__setattr__(self, "holder", holder)
        object.__setattr__(self, "region", region)
        object.__setattr__(self, "decoded", decoded)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Credential is immutable")

    @classmethod
    def e_voucher(cls, qr_text: str) -> Credential:
        """The medical-insurance e-voucher: the text of the QR code the patient's app shows
        (Alipay, WeChat or the national app), as the scanner read it. It is not the
        ``ecToken``: the client's e-voucher decoder turns it into one before 1101."""
        if (
            not isinstance(qr_text, str)
            or not qr_text.strip()
            or len(qr_text) > 512
            or not _TOKEN.fullmatch(qr_text.strip())
        ):
            # QR texts and tokens are visible ASCII: a control character, a space inside or
            # a look-alike letter is a misread or a forgery, refused before anything is sent.
            raise InvalidInput(
                "The e-voucher QR text is empty, not text, too long, or has characters a "
                "QR code of the e-voucher never has.",
                next_step="Scan the patient's e-voucher QR code again.",
            )
        return cls(CredentialKind.E_VOUCHER, qr_text.strip())

    @classmethod
    def e_voucher_token(cls, token: str, *, holder: str | IdNumber, region: str) -> Credential:
        """A decoded e-voucher: the ``ecToken`` and whom it names (the decoder's ``idNo`` and
        ``insuOrg``). E-voucher decoders make it; a POS that decodes itself may too."""
        if not isinstance(token, str) or not _TOKEN.fullmatch(token) or len(token) > 40:
            raise InvalidInput(
                "The e-voucher decode gave an ecToken that is empty, too long or not text.",
                next_step="Scan the patient's e-voucher QR code again.",
            )
        return cls(
            CredentialKind.E_VOUCHER,
            token,
            holder=IdNumber(holder),
            region=_region(region, "the e-voucher's region of insurance (insuOrg)"),
            decoded=True,
        )

    @classmethod
    def id_card(cls, number: str) -> Credential:
        """The patient's resident ID number, as read from the card (type 02)."""
        number = IdNumber(number)
        return cls(CredentialKind.ID_NUMBER, number, holder=number)

    @classmethod
    def social_card(
        cls,
        card_no: str,
        *,
        card_sn: str,
        region: str,
        holder: str | IdNumber | None = None,
    ) -> Credential:
        """The social-security card as a card reader gives it (type 03): the card number
        (社会保障卡卡号, sent as ``mdtrt_cert_no``), the card identification code
        (``card_sn``), the card's region (发卡地区, 6 digits) and, where the reader gives
        it, the holder's ID number (社会保障号码), which R1 then compares with the
        centre's answer."""
        if not isinstance(card_no, str) or not _CARD_NO.fullmatch(card_no.strip()):
            raise InvalidInput(
                "The social-security card number is missing or malformed.",
                next_step="Read the card again: the card number is letters and digits "
                "(not the holder's ID number).",
            )
        if (
            not isinstance(card_sn, str)
            or not card_sn.strip()
            or len(card_sn) > 32
            or not _CARD_SN.fullmatch(card_sn.strip())
        ):
            raise InvalidInput(
                "The social-security card identification code (card_sn) is missing or malformed.",
                next_step="Read the card again; card_sn is encoded in the card's chip.",
            )
        return cls(
            CredentialKind.SOCIAL_CARD,
            card_no.strip(),
            card_sn.strip(),
            holder=None if holder is None else IdNumber(holder),
            region=_region(region, "the card's region (发卡地区)"),
        )

    @property
    def id_number(self) -> IdNumber | None:
        """The ID number this credential names by itself: the ID card's, the holder's a
        card reader or an e-voucher decode gave; None when it names none."""
        return self.holder

    @property
    def ready(self) -> bool:
        """Whether it can go to the centre as it is: an e-voucher only once decoded."""
        return self.kind is not CredentialKind.E_VOUCHER or self.decoded

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credential):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[object, ...]:
        return (self.kind, self.value, self.card_sn, self.holder, self.region, self.decoded)

    def __repr__(self) -> str:
        if self.kind is CredentialKind.E_VOUCHER:
            what = "e_voucher_token" if self.decoded else "e_voucher"
            return f"Credential.{what}({mask_secret(self.value)})"
        if self.kind is CredentialKind.ID_NUMBER:
            return f"Credential.id_card('{mask_id(self.value)}')"
        return f"Credential.social_card({mask_secret(self.value)}, card_sn=<hidden>, region={self.region!r})"

    __str__ = __repr__


def _region(value: str, what: str) -> str:
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise InvalidInput(
            f"{what[:1].upper()}{what[1:]} must be a 6-digit administrative code.",
            next_step="Pass the region as the card reader or the decoder gives it, e.g. '210200'.",
        )
    return value
