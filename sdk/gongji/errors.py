"""The error hierarchy.

Every error carries a stable ``code`` a program can branch on and a message a
person can act on: what went wrong, then what to do next. No error ever holds a
secret or a full ID number; callers pass masked identifiers (``identity.mask``).
"""

from __future__ import annotations


class GongjiError(Exception):
    """Base of every error the SDK raises on purpose.

    ``str(error)`` is ``"<what happened> <what to do next>"``.
    """

    code: str = "gongji_error"
    #: Said after the message when the raiser gives no more specific advice.
    next_step: str = "See the gongji documentation for this error code."

    def __init__(
        self,
        message: str,
        *,
        next_step: str | None = None,
        code: str | None = None,
        gateway: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = message
        if next_step is not None:
            self.next_step = next_step
        if code is not None:
            self.code = code
        self.gateway = gateway
        self.request_id = request_id
        super().__init__(f"{message} {self.next_step}".strip())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={str(self)!r})"


class ConfigError(GongjiError):
    """Configuration, a policy pack, a key file or an optional extra is wrong or missing."""

    code = "config_error"
    next_step = "Fix the configuration named above and try again."


class InvalidInput(GongjiError):
    """The caller passed something that cannot be right; nothing was sent or charged."""

    code = "invalid_input"
    next_step = "Correct the input; nothing was sent or charged."


class EligibilityError(GongjiError):
    """A rule R1-R9 refuses the purchase as a whole."""

    code = "ineligible"
    rule: str = ""
    #: The refusal in Chinese, as the rule said it to the cashier ("" when it said none).
    reason_zh: str = ""

    def __init__(
        self, message: str, *, rule: str | None = None, reason_zh: str = "", **kwargs: str | None
    ) -> None:
        if rule is not None:
            self.rule = rule
        self.reason_zh = reason_zh
        super().__init__(f"{self.rule}: {message}" if self.rule else message, **kwargs)


class OwnCardViolation(EligibilityError):
    """R1: the credential presented is not the patient's own (impersonation, 冒名就医)."""

    code = "own_card_violation"
    rule = "R1"
    next_step = (
        "Ask for the patient's own e-voucher, ID card or social-security card; "
        "a relative's account can still pay through family mutual aid."
    )


class KinshipViolation(EligibilityError):
    """R2-R5: owner, beneficiary, relation or binding state does not allow mutual aid."""

    code = "kinship_violation"
    next_step = "Pay the share from another account or in cash."


class UseViolation(EligibilityError):
    """R6: the purpose or item may not be paid from a personal account."""

    code = "use_violation"
    rule = "R6"
    next_step = "Collect this share in cash."


class RegionViolation(EligibilityError):
    """R7: the owner's and beneficiary's insurance regions do not allow mutual aid."""

    code = "region_violation"
    rule = "R7"
    next_step = "Pay the share from another account or in cash."


class LimitExceeded(EligibilityError):
    """R8: a balance or per-transaction limit does not cover the amount."""

    code = "limit_exceeded"
    rule = "R8"
    next_step = "The next account in the payer chain or cash covers the rest."


class DiseaseNotRegistered(EligibilityError):
    """A sale asked to be settled under a chronic or special disease (med_type 14) that the
    centre has not registered for the patient, or not on the day of the sale."""

    code = "disease_not_registered"
    next_step = (
        "Settle it as an ordinary sale (without chronic_disease), or choose a disease the "
        "patient is registered for; nothing was charged."
    )


class GatewayError(GongjiError):
    """A gateway (insurance centre or payment channel) failed or refused."""

    code = "gateway_error"
    next_step = "Check the gateway's status; nothing was charged by this request."


class Declined(GatewayError):
    """The gateway answered and refused: ``infcode`` and ``err_msg`` are the centre's own."""

    code = "declined"
    next_step = "Read the gateway's reason above; nothing was charged by this request."

    def __init__(
        self,
        message: str,
        *,
        infcode: str | None = None,
        err_msg: str | None = None,
        **kwargs: str | None,
    ) -> None:
        self.infcode = infcode
        self.err_msg = err_msg
        super().__init__(message, **kwargs)


class Unavailable(GatewayError):
    """The gateway could not be reached, or failed without a definitive answer.

    From an adapter after a write, the outcome is unknown to the adapter; the flows
    then query or reverse, and raise it to the caller only once nothing is charged.
    """

    code = "unavailable"
    next_step = "Retry later; nothing was charged."


class SignatureError(GatewayError):
    """A signature could not be made or a received one did not verify; nothing was parsed."""

    code = "signature_error"
    next_step = (
        "Check the keys and certificates configured for this gateway; "
        "the message was not trusted and nothing was parsed."
    )


class UntrustedAnswer(GatewayError):
    """The gateway answered something inconsistent or undocumented; nothing in it was trusted.

    After a write (a settlement, a charge) this means the outcome is unknown: gongji
    queries or reverses, exactly as after a timeout.
    """

    code = "untrusted_answer"
    next_step = "Nothing was trusted from the answer; report it to the gateway's operator."


class SettlementTaken(UntrustedAnswer):
    """An answer named a settlement that another sale's entry holds (a replayed answer):
    the journal refused the write that would have given it to a second sale, in that
    write's own transaction, and wrote nothing. ``key`` is the sale that holds it."""

    code = "settlement_taken"
    next_step = "Nothing was trusted from the answer; the sale's own settlement is undone."

    def __init__(self, message: str, *, key: str, **kwargs: str | None) -> None:
        self.key = key
        super().__init__(message, **kwargs)


class OutcomeUnknown(GongjiError):
    """A write may or may not have committed; the settlement is journaled as in doubt."""

    code = "outcome_unknown"
    next_step = "Run client.recover(), or settle again with the same key; never with a new key."

    def __init__(self, message: str, *, key: str | None = None, **kwargs: str | None) -> None:
        self.key = key
        super().__init__(message, **kwargs)


class JournalUnavailable(GongjiError):
    """The journal could not be read or written (a disk, a lock held too long, a database
    server out of reach). What was written before stands; nothing is guessed."""

    code = "journal_unavailable"
    next_step = (
        "Fix the journal's storage (disk space, the database server), then settle again with "
        "the same key or run client.recover(); a sale interrupted here is resolved from the journal."
    )


class LeaseLost(OutcomeUnknown):
    """A flow's lease on its sale's key ran out and another flow (``recover()``, a retry,
    another till) took the sale over: the journal refused the flow's write, and nothing
    that other flow wrote was overwritten."""

    code = "lease_lost"
    next_step = (
        "Settle again with the same key: it returns the sale as the other flow left it "
        "(its receipt if it settled)."
    )
