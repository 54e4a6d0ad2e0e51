"""The e-voucher decoder: what turns the QR text a till scanned into the ``ecToken`` 1101 takes.

The QR code of the medical-insurance e-voucher (医保电子凭证) is not the token the centre
resolves (NATIONAL.md §5). The till hands the scanned text to a decoder, the national
e-voucher terminal service or library in production (``ec.query``), which answers the
``ecToken`` with the holder's ID number, name and region of insurance (``insuOrg``).

A decoder is an adapter like a gateway: sans-I/O, its ``decode`` a flow that yields the
request and reads the answer, so that both drivers run it; it is registered through
``gongji_register_adapters`` with ``kind="decoder"`` and chosen per profile (its
``[decoder]`` table). Built in: ``national-terminal`` (``gongji_cityins``) and the mock's
own (``gongji_mock``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from attrs import frozen

from gongji.gateways.exchange import Flow
from gongji.identity import Credential, IdNumber, mask_secret

__all__ = ["DecodedVoucher", "VoucherDecoder"]


@frozen(repr=False)
class DecodedVoucher:
    """What a decode gives: the token, and whom the e-voucher names."""

    ec_token: str
    holder: IdNumber
    name: str
    region: str  # insuOrg: the holder's region of insurance, 6 digits
    id_type: str = "01"  # idType: the certificate type (01 = resident ID)

    def credential(self) -> Credential:
        """The e-voucher as 1101 takes it: type 01 with the token."""
        return Credential.e_voucher_token(self.ec_token, holder=self.holder, region=self.region)

    def __repr__(self) -> str:
        return (
            f"DecodedVoucher(ec_token={mask_secret(self.ec_token)}, holder={self.holder!r}, "
            f"region={self.region!r})"
        )


@runtime_checkable
class VoucherDecoder(Protocol):
    """Decodes e-voucher QR texts. ``decode`` refuses (``Declined``) a text it cannot read."""

    name: str

    def decode(self, qr_text: str) -> Flow[DecodedVoucher]: ...
