"""What a flow works with: the gateways, the journal, the rules, the clock, the limits.

One ``Setup`` per client object; the flows read it and never change it.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from typing import Any

import pluggy
from attrs import field, frozen

from gongji import clock as beijing
from gongji.clock import Clock
from gongji.errors import ConfigError
from gongji.gateways import InsuranceGateway, PaymentChannel, VoucherDecoder
from gongji.identity import Credential, CredentialKind
from gongji.journal import Journal
from gongji.model import Purchase
from gongji.policy import PolicyPack, get_policy, policy_on

_log = logging.getLogger("gongji")

Checkpoint = Callable[[str], None]


@frozen
class Polling:
    """How long a payment that waits for the payer's password is polled, then reversed."""

    interval_ms: int = 2_000
    attempts: int = 15  # 30 seconds at the default interval
    read_retries: int = 2  # a query (a read) is repeated this often on a transport failure


@frozen
class SettlementEvent:
    """What ``gongji_settlement_event`` observers receive. No secret, no full ID number."""

    kind: str  # settled, divergence, failed, reversed, cancelled, refunded, in_doubt
    key: str
    settlement_id: str = ""
    detail: str = ""


@frozen
class Setup:
    gateway: InsuranceGateway
    channels: Mapping[str, PaymentChannel]
    journal: Journal
    plugins: pluggy.PluginManager = field(repr=False)
    policy: PolicyPack
    #: What "now" is: Beijing time by default; a test or a simulation passes its own.
    clock: Clock = beijing.now
    polling: Polling = Polling()
    #: Called at every step boundary (before and after each journal write and each
    #: request): the crash tests kill the process there. Never needed in production.
    checkpoint: Checkpoint | None = None
    #: Turns an e-voucher's QR text into its token (``gongji.gateways.voucher``); None: the
    #: profile has none, and an e-voucher is refused before anything is sent.
    decoder: VoucherDecoder | None = None

    def boundary(self, name: str) -> None:
        if self.checkpoint is not None:
            self.checkpoint(name)

    @classmethod
    def build(
        cls,
        *,
        gateway: InsuranceGateway,
        channels: Mapping[str, PaymentChannel],
        journal: Journal,
        plugins: pluggy.PluginManager,
        policy: str,
        **options: Any,
    ) -> Setup:
        return cls(
            # The gateway numbers its messages from this journal, not from its process.
            gateway=gateway.with_journal(journal),
            # Kept as given, not copied: a profile may make its channels when first used.
            channels=channels,
            journal=journal,
            plugins=plugins,
            policy=get_policy(policy),
            **options,
        )

    def today(self) -> datetime.date:
        """The sale's date: the Beijing calendar day, whatever the till's time zone."""
        return beijing.day(self.clock())

    def policy_on(self, day: datetime.date) -> PolicyPack:
        """The pack of the configured pack's line in force on ``day`` (``effective``..``until``)."""
        return policy_on(self.policy, day)

    def voucher_decoder(self) -> VoucherDecoder:
        if self.decoder is None:
            raise ConfigError(
                "An e-voucher was scanned, and this client has no e-voucher decoder to turn "
                "its QR text into the token the centre takes.",
                next_step="Add a [decoder] table to the profile (docs/reference/config.md), "
                "or take the patient's ID card or social-security card; nothing was sent.",
            )
        return self.decoder

    def channel(self, kind: str) -> PaymentChannel:
        found = self.channels.get(kind)
        if found is None:
            raise ConfigError(
                f"No {kind} channel is configured for this client.",
                next_step=f"Add a [channels.{kind}] table to the profile, or take the cash at the till with gongji.Cash.counter().",
            )
        return found

    def announce(self, event: SettlementEvent) -> None:
        # An observer (audit log, printer) must never undo or block a sale whose money moved.
        try:
            self.plugins.hook.gongji_settlement_event(event=event)
        except Exception as error:  # any observer failure is logged, not raised
            _log.warning(
                "A gongji_settlement_event observer failed on %s: %s",
                event.kind,
                type(error).__name__,
            )

    def fingerprint(self, purchase: Purchase) -> str:
        """A keyed digest of what was asked, so one key can never settle two different purchases.

        How the cash share is paid is not part of it: a customer whose Alipay code failed
        pays the same sale with WeChat Pay.
        """
        credential = purchase.credential
        # An e-voucher's token changes every time the patient's app shows it, and a
        # payment code every minute: a retry may bring new ones for the same purchase.
        shown = "" if credential.kind is CredentialKind.E_VOUCHER else credential.value
        parts = [
            credential.kind.value,
            shown,
            credential.card_sn or "",
            purchase.patient_id.number if purchase.patient_id else "",
            purchase.agent_id.number if purchase.agent_id else "",
            purchase.purpose.value,
            purchase.setting.value,
        ]
        if purchase.visit is not None:
            # Only for a visit, so that the keys of earlier sales keep their fingerprints.
            parts.append(f"visit:{purchase.visit.visit_id}")
        if purchase.use_mutual_aid:
            # Asked for or declined, the same basket is another sale: a retry may not switch it.
            parts.append("mutual-aid")
        if purchase.chronic_disease:
            # Under a disease (med_type 14) or not, the same basket is another sale.
            parts.append(f"chronic:{purchase.chronic_disease}")
        for item in purchase.items:
            parts += [
                item.code,
                str(int(item.unit_price)),
                str(item.quantity),
                item.category.value,
                item.coverage.value,
            ]
            if item.national_code or item.prescription or item.outside_prescription:
                # Only when set, so that the keys of earlier sales keep their fingerprints.
                parts += [item.national_code, item.prescription, str(item.outside_prescription)]
        return self._keyed("\x1f".join(parts).encode())

    def voucher(self, credential: Credential) -> str:
        """A keyed digest of an e-voucher's token ("" for other credentials): kept on the
        entry so that a retry with the same token needs no second look-up at the centre,
        where a spent token is refused."""
        if credential.kind is not CredentialKind.E_VOUCHER:
            return ""
        return self._keyed(b"e-voucher\x1f" + credential.value.encode())

    def _keyed(self, message: bytes) -> str:
        """A digest only this journal's key can make, so it says nothing to anyone else."""
        return hmac.new(self.journal.salt, message, hashlib.sha256).hexdigest()
