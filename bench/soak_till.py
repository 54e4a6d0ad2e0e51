"""One till process of the soak, forked by the supervisor (bench/soak_world.py).

A till's POS, or ``gongji journal recover`` run beside it with its till number and
journal: the process does what the supervisor's frames say (bench/soak_wire.py) and
nothing else: settle, preview, refund, cancel, recover, a clinic visit's steps
(register, upload fees, settle) or a day's reconciliation, with its own SQLite journal, a client whose every request is a frame to the supervisor,
and a clock that reads the virtual time the last frame brought. At a command's planned
checkpoint it kills itself with ``SIGKILL``: nothing is flushed or cleaned up, as when
the power goes.
"""

from __future__ import annotations

import collections
import datetime
import functools
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import IO, Any

import attrs
import httpx

from gongji import (
    Cash,
    Credential,
    Declined,
    Diagnosis,
    EligibilityError,
    GongjiError,
    InvalidInput,
    LineItem,
    OutcomeUnknown,
    OwnCardViolation,
    Packs,
    Purchase,
    SettlementClient,
    Unavailable,
)
from gongji.flows.setup import Checkpoint, Polling
from gongji.gateways import PaymentChannel
from gongji.journal import SqliteJournal
from gongji.model import Receipt
from gongji.rules.quote import Quote
from gongji.signing.alipay import AlipaySigner, AlipayVerifier
from gongji.signing.alipay_certs import AlipayPublicKeys
from gongji.signing.keys import load_private_key, load_public_key
from gongji.signing.tif import TifAuth, TifSigner
from gongji.signing.wechatpay import WechatPayMerchant
from gongji.signing.wechatpay_keys import PlatformKeyStore
from gongji_alipay import AlipayChannel
from gongji_cityins import CITIES, CityInsuranceGateway, CityProfile, Institution
from gongji_mock.national.vouchers import MockVoucherDecoder
from gongji_mock.profile import MOCK_INSTITUTION, MOCK_PHARMACIST
from gongji_wechatpay import WechatPayChannel
from soak_wire import PipeTransport, VirtualClock, receive, send

_UNDONE = {"refund": "refunded", "cancel": "cancelled"}
POLLING = Polling(interval_ms=5, attempts=3, read_retries=2)
#: The mock's addresses as the till knows them: never resolved (every request is a frame).
CENTRE = "http://centre.soak.invalid"
#: Longer than any run: in the soak a lease is taken from its holder only when the holder
#: is provably dead (killed), never because wall time ran out.
LEASE_SECONDS = 86_400

#: The stock facts of every pack the pharmacy sells (its 3505 sales upload names them).
STOCK: dict[str, Any] = {
    "batch": "KC2026001",
    "lot": "L20260401",
    "made_on": datetime.date(2026, 4, 1),
}

#: What the clinic's doctors diagnose (2203 comes before any fee line).
DIAGNOSIS = Diagnosis(code="J06.900", name="急性上呼吸道感染")


def client_for(
    workdir: Path, till: int, clock: VirtualClock, network: PipeTransport, checkpoint: Checkpoint
) -> SettlementClient:
    """The till's client, as the mock profile would make it against a served mock, with
    the virtual clock in every part that reads time."""
    keys = _keys(workdir)
    loaded = keys["loaded"]
    city = _city(keys)
    gateway = CityInsuranceGateway(
        profile=attrs.evolve(city, base_url=CENTRE, policy=keys["policy"]),
        institution=Institution(
            code=MOCK_INSTITUTION[0],
            name=MOCK_INSTITUTION[1],
            till=till + 1,
            pharmacist=MOCK_PHARMACIST[0],
            pharmacist_cert_no=MOCK_PHARMACIST[1],
        ),
        auth=TifAuth(TifSigner(keys["tif"]["paasid"], keys["tif"]["secret"], clock=clock.unix)),
        clock=clock.beijing,
    )
    wx, ali = keys["wechatpay"], keys["alipay"]
    channels: dict[str, PaymentChannel] = {
        "wechatpay": WechatPayChannel(
            merchant=WechatPayMerchant(
                mchid=wx["mchid"],
                serial_no=wx["merchant_serial_no"],
                private_key=loaded["merchant"],
            ),
            platform=PlatformKeyStore(
                public_keys={
                    wx["platform_public_key_id"]: load_public_key(wx["platform_public_key"])
                }
            ),
            apiv3_key=wx["apiv3_key"],
            appid=wx["appid"],
            base_url=CENTRE,
            clock=clock.unix,
        ),
        "alipay": AlipayChannel(
            signer=AlipaySigner(
                app_id=ali["app_id"],
                private_key=load_private_key(ali["app_private_key"]),
                clock=clock.unix,
            ),
            verifier=AlipayVerifier(
                AlipayPublicKeys(public_key=load_public_key(ali["alipay_public_key"])),
                clock=clock.unix,
            ),
            base_url=CENTRE + "/gateway.do",
            clock=clock.unix,
        ),
    }
    return SettlementClient(
        gateway=gateway,
        channels=channels,
        journal=SqliteJournal(
            workdir / f"journal-{till:02d}.sqlite3",
            lease_seconds=LEASE_SECONDS,
            # A killed process loses nothing SQLite committed, fsynced or not (the crash
            # suite proves the write order; the power-cut half is SQLite's): the soak's
            # tills run one at a time, and would wait on each other's fsyncs.
            synchronous="NORMAL",
        ),
        policy=keys["policy"],
        polling=POLLING,
        clock=clock.beijing,
        checkpoint=checkpoint,
        http=httpx.Client(transport=network),
        # The e-voucher's QR text is decoded by the mock's ec.query, as the profile does.
        decoder=MockVoucherDecoder.at(CENTRE, MOCK_INSTITUTION[0]),
    )


def seed_msgid_serials(start: int) -> None:
    """Today's city gateway starts each process's msgid serial at random; the soak gives
    it the supervisor's seeded start instead (the same for ``gongji journal recover`` as
    for the POS beside it: the worst case of the random draw). A gateway whose msgids
    come from the journal has no such start, and nothing is set."""
    from gongji_cityins import gateway as city

    if hasattr(city, "_SERIAL_START"):
        city._SERIAL_START = collections.defaultdict(lambda: start)


class Till:
    def __init__(self, workdir: Path, till: int, inbound: IO[bytes], outbound: IO[bytes]) -> None:
        self.clock = VirtualClock()
        self.network = PipeTransport(inbound, outbound, self.clock)
        self.client = client_for(workdir, till, self.clock, self.network, self.checkpoint)
        self.admin = httpx.Client(transport=self.network, base_url=CENTRE)
        self.checkpoints = 0
        self.kill_at = 0

    def checkpoint(self, _name: str) -> None:
        self.checkpoints += 1
        if self.kill_at and self.checkpoints == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def close(self) -> None:
        self.client.close()
        self.admin.close()

    # ---------------------------------------------------------------- commands

    def run(self, command: dict[str, Any]) -> dict[str, Any]:
        self.checkpoints, self.kill_at = 0, command.get("crash_at", 0)
        try:
            return self.operate(command)
        finally:
            self.kill_at = 0

    def operate(self, command: dict[str, Any]) -> dict[str, Any]:
        what = command["do"]
        try:
            if what == "recover":
                ended = self.client.recover()
                return {
                    "outcome": "recovered",
                    "recovered": len(ended),
                    "left": len(self.client.journal.in_doubt()),
                }
            if what == "reconcile":
                report = self.client.reconcile(datetime.date.fromisoformat(command["day"]))
                return {"outcome": "reconciled", "report": report.as_dict()}
            if what in VISIT_COMMANDS:
                return VISIT_COMMANDS[what](self, command)
            if what == "preview":
                return _quote_outcome(self.client.preview(self.purchase(command["op"])))
            if what in ("refund", "cancel"):
                undo = self.client.refund if what == "refund" else self.client.cancel
                return _receipt_outcome(undo(command["settlement_id"]), _UNDONE[what])
            presenter = command["op"]["presenter"] if what == "impersonate" else None
            purchase = self.purchase(command["op"], presenter=presenter)
            receipt = self.client.settle(
                purchase, key=command["key"], cash=_cash(command["op"], command["auth_code"])
            )
            return _receipt_outcome(receipt, "settled")
        except OwnCardViolation as error:
            return {"outcome": "refused_r1", "message": str(error)}
        except EligibilityError as error:
            return {"outcome": "refused", "message": str(error)}
        except Declined as error:
            return {"outcome": "declined", "message": str(error)}
        except OutcomeUnknown as error:
            return {"outcome": "in_doubt", "message": str(error)}
        except Unavailable as error:
            return {"outcome": "unavailable", "message": str(error)}
        except InvalidInput as error:
            return {"outcome": "invalid", "message": str(error)}
        except GongjiError as error:
            return {"outcome": type(error).__name__, "message": str(error)}

    def credential(self, op: dict[str, Any], presenter: str | None = None) -> Credential:
        """The patient's own credential as the plan says (an e-voucher, shown fresh from the
        patient's app, or the ID card), or the ``presenter``'s ID card."""
        if op["credential"] == "e_voucher" and presenter is None:
            answer = self.admin.post("/gongji-admin/e-voucher", json={"id_number": op["patient"]})
            answer.raise_for_status()
            return Credential.e_voucher(answer.json()["qr_text"])
        return Credential.id_card(presenter or op["patient"])

    def purchase(self, op: dict[str, Any], presenter: str | None = None) -> Purchase:
        credential = self.credential(op, presenter)
        return Purchase(
            credential=credential,
            items=_items(op["lines"]),
            patient_id=op["patient"] if presenter else None,
            agent_id=None if presenter else op["agent"],
            use_mutual_aid=op["mutual_aid"],
        )

    # ------------------------------------------------------------ a clinic's visit

    def register_visit(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command["op"]
        department, department_code, category, doctor, doctor_code = op["department"]
        visit = self.client.register_visit(
            self.credential(op),
            department=department,
            department_code=department_code,
            department_category=category,
            doctor=doctor,
            doctor_code=doctor_code,
            outpatient_no=f"OP{op['index']:06d}",
        )
        # The Visit goes back to the supervisor, which keeps it as a billing system keeps
        # its visits (never written to the run's files: it names the patient).
        return {"outcome": "registered", "visit_id": visit.visit_id, "visit": visit}

    def diagnose_visit(self, command: dict[str, Any]) -> dict[str, Any]:
        visit = self.client.diagnose(command["visit"], [DIAGNOSIS])
        return {"outcome": "diagnosed", "visit_id": visit.visit_id, "visit": visit}

    def upload_fees(self, command: dict[str, Any]) -> dict[str, Any]:
        visit = self.client.upload_fees(command["visit"], _items(command["lines"]))
        return {
            "outcome": "uploaded",
            "visit_id": visit.visit_id,
            "lines": len(visit.items),
            "visit": visit,
        }

    def settle_visit(self, command: dict[str, Any]) -> dict[str, Any]:
        op, visit = command["op"], command["visit"]
        purchase = Purchase.for_visit(
            visit,
            self.credential(op, command.get("presenter")),
            agent_id=op["agent"],
            use_mutual_aid=op["mutual_aid"],
        )
        cash = _cash(op, command["auth_code"])
        receipt = self.client.settle(purchase, key=command["key"], cash=cash)
        return _receipt_outcome(receipt, "settled") | {"visit_id": visit.visit_id}


#: The steps of a clinic's visit (bench/soak_plan.py, ``VISIT_STEPS``): command -> method.
VISIT_COMMANDS = {
    "register_visit": Till.register_visit,
    "diagnose_visit": Till.diagnose_visit,
    "upload_fees": Till.upload_fees,
    "settle_visit": Till.settle_visit,
}


def _items(lines: list[list[Any]]) -> list[LineItem]:
    return [
        LineItem(
            code=c,
            name=n,
            unit_price=p,
            quantity=q,
            category=cat,
            coverage=cov,
            packs=Packs(codes=codes, **STOCK) if codes else None,
        )
        for c, n, p, q, cat, cov, codes in lines
    ]


def _cash(op: dict[str, Any], auth_code: str) -> Cash:
    if op["cash"] == "wechatpay":
        return Cash.wechat(auth_code)
    if op["cash"] == "alipay":
        return Cash.alipay(auth_code)
    return Cash.counter()


def _quote_outcome(quote: Quote) -> dict[str, Any]:
    parts = int(quote.fund) + sum(int(leg.amount) for leg in quote.legs) + int(quote.cash)
    outcome: dict[str, Any] = {"outcome": "quoted", "refusals": len(quote.refusals)}
    if parts != int(quote.total):
        outcome["violation"] = f"quote parts sum to {parts}, total {int(quote.total)}"
    return outcome


def _receipt_outcome(receipt: Receipt, outcome: str) -> dict[str, Any]:
    parts = int(receipt.fund) + sum(int(leg.amount) for leg in receipt.legs) + int(receipt.cash)
    line: dict[str, Any] = {
        "outcome": outcome,
        "settlement_id": receipt.settlement_id,
        "total": int(receipt.total),
        "cash": int(receipt.cash),
        "cash_channel": receipt.cash_channel,
        "legs": sorted({leg.source for leg in receipt.legs}),
        "divergence": bool(receipt.divergence),
    }
    if parts != int(receipt.total):
        line["violation"] = f"receipt {receipt.settlement_id}: parts {parts} != {receipt.total}"
    return line


@functools.cache
def _keys(workdir: Path) -> dict[str, Any]:
    """The mock's test keys, parsed once in the supervisor before it forks any till (an
    RSA key takes a quarter of a second to load; a forked till inherits them loaded)."""
    keys: dict[str, Any] = json.loads((workdir / "keys.json").read_text(encoding="utf-8"))
    keys["loaded"] = {
        "merchant": load_private_key(keys["wechatpay"]["merchant_private_key"]),
        "platform": load_public_key(keys["wechatpay"]["platform_public_key"]),
        "app": load_private_key(keys["alipay"]["app_private_key"]),
        "alipay": load_public_key(keys["alipay"]["alipay_public_key"]),
    }
    return keys


def _city(keys: dict[str, Any]) -> CityProfile:
    return next((c for c in CITIES.values() if c.policy == keys["policy"]), CITIES["dalian"])


def region(workdir: Path) -> str:
    """The pooling region the tills' gateway serves (its settling agency by default)."""
    return _city(_keys(workdir)).region


def preload(workdir: Path) -> None:
    """What every till needs, made once in the supervisor before it forks any."""
    _keys(workdir)


def serve(workdir: Path, till: int, serial_start: int, channel: IO[bytes]) -> int:
    """The till's life in a forked process: its log on stderr, then one command per frame
    until the supervisor says quit (or the till kills itself at a checkpoint)."""
    # The SDK's own log, at its most talkative, goes to stderr (the till's log file, searched
    # for secrets afterwards), not to the supervisor's mock.log.
    for name in ("gongji", "gongji_mock"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.basicConfig(
        level=logging.INFO,
        format="%(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("gongji").setLevel(logging.DEBUG)
    seed_msgid_serials(serial_start)
    runner = Till(workdir, till, channel, channel)
    try:
        while True:  # one command per frame, until the supervisor says quit
            frame = receive(channel)
            runner.clock.micros = frame[1]
            if frame[0] == "quit":
                runner.network.hung_up = True
                return 0
            send(channel, ("done", runner.run(frame[2])))
    finally:
        runner.close()
