from __future__ import annotations

import datetime
import logging

import pytest

from gongji import Credential, IdNumber, InvalidInput
from tests.conftest import OWNER, PATIENT, make_id


def test_resident_id_yields_birth_date_sex_and_region() -> None:
    number = IdNumber(OWNER)
    assert number.birth_date == datetime.date(1985, 3, 17)
    assert number.sex == "male"
    assert IdNumber(PATIENT).sex == "female"
    assert number.region == "210202"
    assert number.age_on(datetime.date(2026, 3, 16)) == 40
    assert number.age_on(datetime.date(2026, 3, 17)) == 41


def test_bad_checksum_is_invalid_input_naming_the_check_digit() -> None:
    wrong = OWNER[:-1] + ("0" if OWNER[-1] != "0" else "1")
    with pytest.raises(InvalidInput, match="check digit"):
        IdNumber(wrong)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "123",
        "21020219850317003",
        "2102021985031700361",
        "21020219850317003A",
        "210202199902300034",
    ],
)
def test_malformed_id_numbers_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        IdNumber(text)


def test_unknown_province_is_refused() -> None:
    with pytest.raises(InvalidInput, match="province"):
        IdNumber(make_id("990202", "19850317", "003"))


def test_holder_born_before_their_district_code_existed_is_accepted() -> None:
    # Codes are assigned at issuance; a Dalian 210202 number of someone born in 1956 is real.
    assert IdNumber(make_id("210202", "19560101", "011")).birth_date.year == 1956


def test_legacy_15_digit_number_is_converted_to_18() -> None:
    legacy = OWNER[:6] + OWNER[8:17]  # drop the century and the check digit
    assert IdNumber(legacy) == OWNER


def test_lowercase_x_check_digit_is_normalised() -> None:
    for order in range(100, 999):
        number = make_id("210202", "19900101", f"{order:03d}")
        if number.endswith("X"):
            break
    assert IdNumber(number.lower()) == number


def test_full_id_number_never_appears_in_repr_str_format_or_error() -> None:
    number = IdNumber(OWNER)
    shown = [repr(number), str(number), f"{number}", "%s" % number, repr(Credential.id_card(OWNER))]  # noqa: UP031
    for text in shown:
        assert OWNER not in text
        assert "210202" in text and OWNER[-4:] in text
    wrong = OWNER[:-1] + ("0" if OWNER[-1] != "0" else "1")
    with pytest.raises(InvalidInput) as caught:
        IdNumber(wrong)
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)


def test_id_number_compares_with_the_plain_string() -> None:
    assert IdNumber(OWNER) == OWNER
    assert {OWNER: 1}[IdNumber(OWNER)] == 1
    assert IdNumber(OWNER).number == OWNER


def test_e_voucher_token_is_hidden_in_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    token = "secret-token-123456"
    credential = Credential.e_voucher(token)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").debug("credential %s %r", credential, credential)
    assert token not in caplog.text
    assert token not in repr(credential)


def test_three_credential_kinds_carry_their_national_codes() -> None:
    assert Credential.e_voucher("t").kind.value == "01"
    assert Credential.id_card(OWNER).kind.value == "02"
    social = Credential.social_card("J21020001", card_sn="A1234567", region="210200", holder=OWNER)
    assert social.kind.value == "03" and social.card_sn == "A1234567" and social.id_number == OWNER
    assert social.value == "J21020001" and social.region == "210200"


@pytest.mark.parametrize("card_sn", ["", "   ", "x" * 33])
def test_social_card_needs_its_serial_number(card_sn: str) -> None:
    with pytest.raises(InvalidInput, match="card_sn"):
        Credential.social_card("J21020001", card_sn=card_sn, region="210200")


@pytest.mark.parametrize("region", ["", "2102", "21020X", "2102000"])
def test_social_card_needs_the_cards_six_digit_region(region: str) -> None:
    with pytest.raises(InvalidInput, match="6-digit"):
        Credential.social_card("J21020001", card_sn="A1234567", region=region)


def test_social_card_is_its_card_number_and_names_no_one_unless_the_reader_says() -> None:
    card = Credential.social_card("J21020001", card_sn="A1234567", region="210200")
    assert card.value == "J21020001" and card.id_number is None
    assert "J21020001" not in repr(card) and "A1234567" not in repr(card)


def test_an_e_voucher_is_its_qr_text_until_decoded_then_its_token_and_holder() -> None:
    scanned = Credential.e_voucher("GJQRZXYtdG9rZW4")
    assert not scanned.ready and scanned.id_number is None
    token = Credential.e_voucher_token("ev-token", holder=OWNER, region="210200")
    assert token.ready and token.kind.value == "01" and token.id_number == OWNER
    assert token.region == "210200" and "ev-token" not in repr(token)


def test_an_id_card_is_ready_and_names_its_holder() -> None:
    card = Credential.id_card(OWNER)
    assert card.ready and card.id_number == OWNER and card.kind.value == "02"


def test_empty_e_voucher_token_is_refused() -> None:
    with pytest.raises(InvalidInput, match="e-voucher"):
        Credential.e_voucher(" ")


def test_full_width_digits_from_an_ime_are_stored_as_ascii() -> None:
    full_width = OWNER.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    number = IdNumber(full_width)
    assert number.number == OWNER and number.isascii()


# ---------------------------------------------------------------- permits and foreigners

#: A Taiwan resident's residence permit, a woman born 1990-02-14.
TAIWAN_PERMIT = make_id("830000", "19900214", "024")
#: A foreigner's 2023 permanent-residence number: 9, issued in Liaoning (21), nationality
#: 840, a man born 1978-06-30.
FOREIGNER = make_id("921840", "19780630", "013")


@pytest.mark.parametrize("region", ["810000", "820000", "830000"])
def test_residence_permits_of_hong_kong_macau_and_taiwan_residents_are_accepted(
    region: str,
) -> None:
    number = IdNumber(make_id(region, "19900214", "024"))
    assert number.is_residence_permit and not number.is_foreigner
    assert number.region == region
    assert number.birth_date == datetime.date(1990, 2, 14) and number.sex == "female"


def test_the_2023_permanent_residence_number_of_a_foreigner_is_accepted() -> None:
    number = IdNumber(FOREIGNER)
    assert number.is_foreigner and not number.is_residence_permit
    assert number.birth_date == datetime.date(1978, 6, 30) and number.sex == "male"
    assert number.age_on(datetime.date(2026, 6, 30)) == 48


@pytest.mark.parametrize("number", [TAIWAN_PERMIT, FOREIGNER])
def test_permits_and_foreigners_numbers_are_checked_like_resident_numbers(number: str) -> None:
    wrong_check = number[:-1] + ("0" if number[-1] != "0" else "1")
    with pytest.raises(InvalidInput, match="check digit"):
        IdNumber(wrong_check)
    impossible_birth = make_id(number[:6], "19780230", number[14:17])
    with pytest.raises(InvalidInput, match="birth date"):
        IdNumber(impossible_birth)


def test_a_foreigners_number_needs_a_known_province_of_issue() -> None:
    with pytest.raises(InvalidInput, match="province"):
        IdNumber(make_id("999840", "19780630", "013"))


def test_a_legacy_15_digit_number_is_never_read_as_a_foreigners_number() -> None:
    legacy = FOREIGNER[:6] + FOREIGNER[8:17]  # 9 2 1 ... : no province 92
    with pytest.raises(InvalidInput, match="province"):
        IdNumber(legacy)


def test_permit_and_foreigner_numbers_are_credentials_shown_masked() -> None:
    for number in (TAIWAN_PERMIT, FOREIGNER):
        credential = Credential.id_card(number)
        assert credential.kind.value == "02" and credential.id_number == number
        assert number not in repr(credential) and number not in str(IdNumber(number))


def test_the_province_codes_are_python_stdnums() -> None:
    # identity.PROVINCES is written out for start-up; it must say what stdnum's database says.
    from stdnum import numdb

    from gongji.identity import PROVINCES

    regions = numdb.get("cn/loc")
    known = {
        f"{code:02d}"
        for code in range(100)
        if any(props.get("province") for _, props in regions.info(f"{code:02d}0000"))
    }
    assert known == PROVINCES
