"""1101, who a credential belongs to, and X101 (gongji extension), a beneficiary's bindings."""

from __future__ import annotations

from gongji_mock.centre.decisions import CentreRefusal
from gongji_mock.national.office import Office
from gongji_mock.national.people import pooling_region
from gongji_mock.national.transform import (
    INSU_STAS,
    INSUTYPE,
    Answer,
    balance,
    credential,
    decode_input,
    wrapped,
)
from gongji_mock.national.vouchers import is_qr_text
from gongji_mock.national.wire import (
    BindingOut,
    BindingsQuery,
    Data,
    InsuInfo,
    PersonQuery,
    RequestEnvelope,
)

#: gongji extension (not in the national interface): a beneficiary's mutual-aid bindings.
BINDINGS_INFNO = "X101"


def person_info(office: Office, envelope: RequestEnvelope) -> Answer:
    """1101: the person and every insurance entry, the person's other ones (a 330
    supplement, an old suspended 390) before the main one, as real answers list them in
    no useful order. Regions are pooling regions (``insuplc_admdvs``)."""
    query = decode_input(envelope, Data[PersonQuery]).data
    if query.mdtrt_cert_type == "01" and is_qr_text(query.mdtrt_cert_no):
        raise CentreRefusal(
            "电子凭证二维码不是令牌，请先解码",
            "mdtrt_cert_no is the e-voucher's QR text, not its ecToken: decode it with "
            "ec.query first and send the token.",
        )
    person = office.centre.resolve(
        credential(query.mdtrt_cert_type, query.mdtrt_cert_no, query.card_sn)
    )
    insuinfo = [
        InsuInfo(
            balc="",
            insutype=other.insutype,
            psn_insu_stas=other.status,
            insuplc_admdvs=pooling_region(other.region),
        )
        for other in office.centre.dataset.other_insurance.get(person.id, ())
    ]
    if person.insurance.kind in INSUTYPE:
        insuinfo.append(
            InsuInfo(
                balc=balance(person).to_yuan(),
                insutype=INSUTYPE[person.insurance.kind],
                psn_insu_stas=INSU_STAS[person.insurance.status],
                insuplc_admdvs=pooling_region(person.insurance.region),
            )
        )
    return Answer(wrapped(baseinfo=office.people.base_info(person), insuinfo=insuinfo))


def bindings(office: Office, envelope: RequestEnvelope) -> Answer:
    query = decode_input(envelope, Data[BindingsQuery]).data
    beneficiary = office.people.person(query.psn_no)
    centre = office.centre
    found = []
    for binding in centre.dataset.bindings:
        if binding.beneficiary != beneficiary.id:
            continue
        owner = centre.person(binding.owner)
        limit = binding.per_transaction_limit
        found.append(
            BindingOut(
                psn_no=office.people.psn_no(owner.id),
                certno=owner.id.number,
                psn_name=owner.name,
                relation=binding.relation.value,
                status=binding.status.value,
                priority=binding.priority,
                per_transaction_limit=None if limit is None else limit.to_yuan(),
                insutype=INSUTYPE.get(owner.insurance.kind, ""),
                psn_insu_stas=INSU_STAS[owner.insurance.status],
                insuplc_admdvs=pooling_region(owner.insurance.region),
                balc=balance(owner).to_yuan(),
            )
        )
    return Answer(wrapped(gongji_bindings=found))
