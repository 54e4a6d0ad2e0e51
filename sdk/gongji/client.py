"""The two drivers: ``SettlementClient`` (httpx.Client) and ``AsyncSettlementClient``
(httpx.AsyncClient). They run the flows of ``gongji.flows`` and hold no business logic:
sending a request, waiting out a pause and handing back the answer or the transport
error is all they do.
"""

from __future__ import annotations

import datetime
import logging
import socket
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx
import pluggy

from gongji.flows import chronic as chronic_flows
from gongji.flows import premium as premium_flows
from gongji.flows import reconcile as reconcile_flows
from gongji.flows import recover as recover_flows
from gongji.flows import session as session_flows
from gongji.flows import settle as settle_flows
from gongji.flows import undo as undo_flows
from gongji.flows import visit as visit_flows
from gongji.flows.setup import Checkpoint, Polling, Setup
from gongji.gateways import InsuranceGateway, PaymentChannel, VoucherDecoder
from gongji.gateways.exchange import Blocking, Flow, Pause
from gongji.identity import Credential
from gongji.journal import Entry, Journal
from gongji.model import Cash, ChronicDisease, Diagnosis, LineItem, Purchase, Receipt, Visit
from gongji.premium import PremiumPayment, PremiumReceipt
from gongji.reconciliation import ReconciliationReport
from gongji.rules.quote import Quote
from gongji.tls import require_verified, require_verified_client

if TYPE_CHECKING:
    from gongji.catalogue import Catalogue, CatalogueStore, MappingReport, SyncReport
    from gongji.flows.catalogue import Progress as CatalogueProgress

__all__ = [
    "DEFAULT_TIMEOUT",
    "PROFILE_OPTIONS",
    "AsyncSettlementClient",
    "SettlementClient",
    "drive",
    "drive_async",
]

T = TypeVar("T")

#: The options of ``from_profile`` that go to the profile's factory, not the constructor.
PROFILE_OPTIONS = ("mock", "url", "till")

#: A till's patience: 3 s to connect, 10 s for an answer. The number of requests of a
#: flow is bounded (reads retried twice, a pending payment polled 15 times), so the
#: whole of a settlement is bounded too.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


#: httpx writes a request's head and body in two sends; with Nagle's algorithm on, the
#: body waits for the gateway's delayed ACK of the head (40 ms on Linux) on every POST.
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

_log = logging.getLogger("gongji")


class _Client:
    """What both drivers share: the setup of the flows and the factories."""

    def __init__(
        self,
        *,
        gateway: InsuranceGateway,
        channels: Mapping[str, PaymentChannel] | None = None,
        journal: Journal | None = None,
        policy: str | None = None,
        plugins: pluggy.PluginManager | None = None,
        polling: Polling | None = None,
        clock: Any = None,
        checkpoint: Checkpoint | None = None,
        catalogue: CatalogueStore | None = None,
        decoder: VoucherDecoder | None = None,
    ) -> None:
        # The catalogue store opens on first use, beside the journal unless given.
        self._catalogue_store = catalogue
        self._owns_catalogue = catalogue is None
        if plugins is None:
            from gongji.plugins import get_plugin_manager

            plugins = get_plugin_manager()
        # A till's journal must outlive the process (a crash between the centre's answer
        # and the receipt is resolved from it): SQLite at the per-user path unless given.
        # The mock profile passes a MemoryJournal, so demos and tests write nothing home.
        self._owns_journal = journal is None
        if journal is None:
            from gongji.journal.sqlite import SqliteJournal  # only a till that needs it pays

            journal = SqliteJournal()
        options: dict[str, Any] = {}
        if polling is not None:
            options["polling"] = polling
        if clock is not None:
            options["clock"] = clock
        if checkpoint is not None:
            options["checkpoint"] = checkpoint
        if decoder is not None:
            options["decoder"] = decoder
        try:
            # A durable journal's class is loaded with it: a till on the memory journal (a
            # preview, the mock) does not import SQLite and the sealing at start-up.
            durable = sys.modules.get("gongji.journal.durable")
            if durable is not None and isinstance(journal, durable.DurableJournal):
                journal.require_key("settle or recover a sale")
            self.setup = Setup.build(
                gateway=gateway,
                channels=channels or {},
                journal=journal,
                plugins=plugins,
                policy=policy or gateway.policy,
                **options,
            )
        except BaseException:
            if self._owns_journal:
                getattr(journal, "close", lambda: None)()
            raise

    @property
    def journal(self) -> Journal:
        return self.setup.journal

    @property
    def catalogue(self) -> Catalogue:
        """The national catalogue as this till holds it: ``line(sku, ...)``, ``find``, ``map``."""
        # Imported when first used: a till that never syncs does not pay for it at start-up.
        from gongji.catalogue import Catalogue, store_beside

        if self._catalogue_store is None:
            self._catalogue_store = store_beside(self.setup.journal)
        return Catalogue(self._catalogue_store, self.setup.clock)

    def _sync_catalogue(
        self, full: bool, page_size: int | None, progress: CatalogueProgress | None
    ) -> Flow[SyncReport]:
        from gongji.flows import catalogue as catalogue_flows

        store = self.catalogue.store
        size = catalogue_flows.DEFAULT_PAGE_SIZE if page_size is None else page_size
        return catalogue_flows.sync(self.setup, store, full=full, page_size=size, progress=progress)

    def _upload_mappings(self) -> Flow[MappingReport]:
        from gongji.flows import catalogue as catalogue_flows

        return catalogue_flows.upload_mappings(self.setup, self.catalogue.store)

    @classmethod
    def _from_profile(cls, name: str, given: Mapping[str, Any]) -> Self:
        from gongji.config import client_arguments

        options = {key: value for key, value in given.items() if value is not None}
        # The profile's own options go to its factory (a plugin's: "mock" is gongji_mock's);
        # the rest to the constructor, over what the profile chose.
        profile_options = {key: options.pop(key) for key in PROFILE_OPTIONS if key in options}
        return cls(**(client_arguments(name, **profile_options) | options))

    def _sign_out(self) -> Flow[bool]:
        """The centre's sign-in ended (9002), where the gateway holds one: best-effort."""
        return session_flows.sign_out(self.setup)

    @staticmethod
    def _sign_out_failed(error: Exception) -> None:
        # What the flow does not expect (the driver's own failure): its kind only, as the
        # flow logs its own; closing goes on all the same.
        _log.warning(
            "The sign-out at close failed (%s); closing all the same.", type(error).__name__
        )
        _log.debug("The sign-out at close failed.", exc_info=error)

    def _close_journal(self) -> None:
        if self._owns_catalogue and self._catalogue_store is not None:
            self._catalogue_store.close()
            self._catalogue_store = None
        if self._owns_journal:
            close = getattr(self.setup.journal, "close", None)
            if close is not None:
                close()

    @classmethod
    def _from_config(cls, path: str | Path, profile: str, given: Mapping[str, Any]) -> Self:
        from gongji.config import client_arguments_from_file

        options = {key: value for key, value in given.items() if value is not None}
        own_journal = "journal" in options
        arguments = client_arguments_from_file(Path(path), profile, journal=not own_journal)
        client = cls(**(arguments | options))
        if not own_journal:  # the profile's journal (or the default one): the client closes it
            client._owns_journal = True
        return client

    # The flows, ready to be driven.
    def _preview(self, purchase: Purchase) -> Flow[Quote]:
        return settle_flows.preview(self.setup, purchase)

    def _settle(self, purchase: Purchase, key: str, cash: Cash | None) -> Flow[Receipt]:
        return settle_flows.settle(self.setup, purchase, key, cash or Cash.counter())

    def _recover(self) -> Flow[list[Entry]]:
        return (yield from recover_flows.recover(self.setup))

    def _register_visit(self, credential: Credential, details: dict[str, str]) -> Flow[Visit]:
        return visit_flows.register(self.setup, credential, **details)


def _details(given: Mapping[str, Any]) -> dict[str, str]:
    """``register_visit``'s keywords (its ``locals()``): the registration's details."""
    return {key: value for key, value in given.items() if key not in ("self", "credential")}


def _options(given: Mapping[str, Any]) -> dict[str, Any]:
    """``from_profile``'s and ``from_config``'s keywords (their ``locals()``), as one mapping:
    each is spelled out in the signature, and passed on by name without writing each twice."""
    return {
        key: value for key, value in given.items() if key not in ("cls", "name", "path", "profile")
    }


class SettlementClient(_Client):
    """Settles purchases at a till, synchronously. One ``httpx.Client``, reused."""

    def __init__(
        self,
        *,
        gateway: InsuranceGateway,
        channels: Mapping[str, PaymentChannel] | None = None,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        verify: bool = True,
        **options: Any,
    ) -> None:
        require_verified(verify, "The client's verify=False")  # before anything is opened
        if http is not None:
            require_verified_client(http, "The client's http= (an httpx.Client)")
        super().__init__(gateway=gateway, channels=channels, **options)
        self._http = http or httpx.Client(
            transport=transport or httpx.HTTPTransport(verify=verify, socket_options=NO_DELAY),
            timeout=timeout,
        )

    @classmethod
    def from_profile(
        cls,
        name: str = "mock",
        *,
        mock: object | None = None,
        url: str | None = None,
        till: int | None = None,
        gateway: InsuranceGateway | None = None,
        channels: Mapping[str, PaymentChannel] | None = None,
        journal: Journal | None = None,
        policy: str | None = None,
        plugins: pluggy.PluginManager | None = None,
        polling: Polling | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
        checkpoint: Checkpoint | None = None,
        decoder: VoucherDecoder | None = None,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        verify: bool | None = None,
    ) -> Self:
        """A client from a profile that needs no file, one a plugin registered (``"mock"``:
        the in-process mock gateway over the demo dataset, or over ``mock``, a
        ``gongji_mock.MockGateway``, speaking the real wire protocols; with ``url``, the
        mock ``gongji mock serve`` serves there, over real HTTP). ``till`` numbers this
        till (0-99) among several of one institution. The other options are the
        constructor's, over what the profile chose; None leaves the profile's choice."""
        return cls._from_profile(name, _options(locals()))

    @classmethod
    def from_config(
        cls,
        path: str | Path,
        *,
        profile: str,
        gateway: InsuranceGateway | None = None,
        channels: Mapping[str, PaymentChannel] | None = None,
        journal: Journal | None = None,
        policy: str | None = None,
        plugins: pluggy.PluginManager | None = None,
        polling: Polling | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
        checkpoint: Checkpoint | None = None,
        decoder: VoucherDecoder | None = None,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        verify: bool | None = None,
    ) -> Self:
        """A client from ``profile`` of a ``gongji.toml`` (docs/reference/config.md). The
        options are the constructor's, over the file's; without ``journal`` the profile's
        ``[journal]`` (or the default one), which the client closes."""
        return cls._from_config(path, profile, _options(locals()))

    def preview(self, purchase: Purchase) -> Quote:
        """Who would pay what; nothing is charged."""
        return self._drive(self._preview(purchase))

    def settle(self, purchase: Purchase, *, key: str, cash: Cash | None = None) -> Receipt:
        """Settle once per ``key``: a retry with the same key never charges twice."""
        return self._drive(self._settle(purchase, key, cash))

    def preview_premium(self, payment: PremiumPayment) -> Quote:
        """Whether the payer's account may pay the relative's premium, and what; nothing is charged."""
        return self._drive(premium_flows.preview_premium(self.setup, payment))

    def chronic_diseases(self, credential: Credential) -> tuple[ChronicDisease, ...]:
        """The chronic or special diseases the centre registered for the credential's holder
        (1101, 5301), for the cashier to choose from; nothing is charged."""
        return self._drive(chronic_flows.registered(self.setup, credential))

    def pay_premium(self, payment: PremiumPayment, *, key: str) -> PremiumReceipt:
        """Pay a relative's premium from the payer's account, once per ``key``, through the
        region's premium channel (``Capability.PREMIUM``; refused before anything is sent
        by a gateway without one). Never a pharmacy sale."""
        return self._drive(premium_flows.pay_premium(self.setup, payment, key))

    def register_visit(
        self,
        credential: Credential,
        *,
        department: str,
        department_code: str,
        department_category: str,
        doctor: str,
        doctor_code: str,
        outpatient_no: str = "",
    ) -> Visit:
        """Register an outpatient visit (2201) for the holder of ``credential``: the
        department (name, code, national category ``caty``) and doctor (name, national
        code); ``outpatient_no`` is your own visit number (made for you when ""). Nothing
        is charged."""
        return self._drive(self._register_visit(credential, _details(locals())))

    def diagnose(self, visit: Visit, diagnoses: Iterable[Diagnosis]) -> Visit:
        """Upload the visit's diagnoses (2203), the main one first; the visit with them."""
        return self._drive(visit_flows.diagnose(self.setup, visit, diagnoses))

    def upload_fees(self, visit: Visit, items: Iterable[LineItem]) -> Visit:
        """Upload fee lines for ``visit`` (2204); the visit with them added. Nothing is charged."""
        return self._drive(visit_flows.upload_fees(self.setup, visit, items))

    def withdraw_fees(self, visit: Visit) -> Visit:
        """Withdraw the visit's unsettled fee lines (2205); the visit without them."""
        return self._drive(visit_flows.withdraw_fees(self.setup, visit))

    def cancel_registration(self, visit: Visit) -> None:
        """Cancel the visit's registration (2202); refused for a settled visit."""
        self._drive(visit_flows.cancel_registration(self.setup, visit))

    def refund(self, settlement_id: str) -> Receipt:
        """Give back the whole sale: the insurance share at the centre, the cash share at the channel."""
        return self._drive(undo_flows.undo(self.setup, settlement_id, "refund"))

    def cancel(self, settlement_id: str) -> Receipt:
        """Void today's sale: cancel at the centre and reverse the payment-code payment."""
        return self._drive(undo_flows.undo(self.setup, settlement_id, "cancel"))

    def recover(self) -> list[Entry]:
        """Resolve every sale a timeout or a crash left in doubt; returns the entries as they end."""
        return self._drive(self._recover())

    def reconcile(
        self, day: datetime.date, *, progress: reconcile_flows.Progress | None = None
    ) -> ReconciliationReport:
        """The day's totals (3201) and settlements (3202, by file) at the centre against this
        journal; ``report.clean`` when nothing differs. Reads only: nothing is changed
        anywhere. ``progress(what, done, total)`` is told before each step."""
        return self._drive(reconcile_flows.reconcile(self.setup, day, progress))

    def sync_catalogue(
        self,
        *,
        full: bool = False,
        page_size: int | None = None,
        progress: CatalogueProgress | None = None,
    ) -> SyncReport:
        """Download the national catalogue's changes since the last sync (1312) into
        ``client.catalogue``; a sync cut off goes on where it stopped. ``full``: all of it.
        ``progress(pages_done, pages)`` is called after each page."""
        return self._drive(self._sync_catalogue(full, page_size, progress))

    def upload_mappings(self) -> MappingReport:
        """Upload the SKU mappings the centre does not have yet (3301)."""
        return self._drive(self._upload_mappings())

    def close(self) -> None:
        """End the sign-in at the centre (9002, where the gateway signed in; a failure is
        logged, never raised), then close the HTTP client, and the journal when the
        client opened it."""
        try:
            # No checkpoint: it marks the boundaries of a sale, and closing is none.
            drive(self._sign_out(), self._http)
        except Exception as error:
            self._sign_out_failed(error)
        finally:
            self._http.close()
            self._close_journal()

    def __enter__(self) -> SettlementClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _drive(self, flow: Flow[T]) -> T:
        return drive(flow, self._http, self.setup.checkpoint)


class AsyncSettlementClient(_Client):
    """The same as ``SettlementClient``, as coroutines over one ``httpx.AsyncClient``."""

    def __init__(
        self,
        *,
        gateway: InsuranceGateway,
        channels: Mapping[str, PaymentChannel] | None = None,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        verify: bool = True,
        **options: Any,
    ) -> None:
        require_verified(verify, "The client's verify=False")  # before anything is opened
        if http is not None:
            require_verified_client(http, "The client's http= (an httpx.AsyncClient)")
        super().__init__(gateway=gateway, channels=channels, **options)
        self._http = http or httpx.AsyncClient(
            transport=transport or httpx.AsyncHTTPTransport(verify=verify, socket_options=NO_DELAY),
            timeout=timeout,
        )

    @classmethod
    def from_profile(
        cls,
        name: str = "mock",
        *,
        mock: object | None = None,
        url: str | None = None,
        till: int | None = None,
        gateway: InsuranceGateway | None = None,
        channels: Mapping[str, PaymentChannel] | None = None,
        journal: Journal | None = None,
        policy: str | None = None,
        plugins: pluggy.PluginManager | None = None,
        polling: Polling | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
        checkpoint: Checkpoint | None = None,
        decoder: VoucherDecoder | None = None,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        verify: bool | None = None,
    ) -> Self:
        """As ``SettlementClient.from_profile``, over an ``httpx.AsyncClient``."""
        return cls._from_profile(name, _options(locals()))

    @classmethod
    def from_config(
        cls,
        path: str | Path,
        *,
        profile: str,
        gateway: InsuranceGateway | None = None,
        channels: Mapping[str, PaymentChannel] | None = None,
        journal: Journal | None = None,
        policy: str | None = None,
        plugins: pluggy.PluginManager | None = None,
        polling: Polling | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
        checkpoint: Checkpoint | None = None,
        decoder: VoucherDecoder | None = None,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
        verify: bool | None = None,
    ) -> Self:
        """As ``SettlementClient.from_config``, over an ``httpx.AsyncClient``."""
        return cls._from_config(path, profile, _options(locals()))

    async def preview(self, purchase: Purchase) -> Quote:
        return await self._drive(self._preview(purchase))

    async def settle(self, purchase: Purchase, *, key: str, cash: Cash | None = None) -> Receipt:
        return await self._drive(self._settle(purchase, key, cash))

    async def preview_premium(self, payment: PremiumPayment) -> Quote:
        return await self._drive(premium_flows.preview_premium(self.setup, payment))

    async def chronic_diseases(self, credential: Credential) -> tuple[ChronicDisease, ...]:
        """The chronic or special diseases registered for the credential's holder; nothing is charged."""
        return await self._drive(chronic_flows.registered(self.setup, credential))

    async def pay_premium(self, payment: PremiumPayment, *, key: str) -> PremiumReceipt:
        return await self._drive(premium_flows.pay_premium(self.setup, payment, key))

    async def register_visit(
        self,
        credential: Credential,
        *,
        department: str,
        department_code: str,
        department_category: str,
        doctor: str,
        doctor_code: str,
        outpatient_no: str = "",
    ) -> Visit:
        return await self._drive(self._register_visit(credential, _details(locals())))

    async def diagnose(self, visit: Visit, diagnoses: Iterable[Diagnosis]) -> Visit:
        return await self._drive(visit_flows.diagnose(self.setup, visit, diagnoses))

    async def upload_fees(self, visit: Visit, items: Iterable[LineItem]) -> Visit:
        return await self._drive(visit_flows.upload_fees(self.setup, visit, items))

    async def withdraw_fees(self, visit: Visit) -> Visit:
        return await self._drive(visit_flows.withdraw_fees(self.setup, visit))

    async def cancel_registration(self, visit: Visit) -> None:
        await self._drive(visit_flows.cancel_registration(self.setup, visit))

    async def refund(self, settlement_id: str) -> Receipt:
        return await self._drive(undo_flows.undo(self.setup, settlement_id, "refund"))

    async def cancel(self, settlement_id: str) -> Receipt:
        return await self._drive(undo_flows.undo(self.setup, settlement_id, "cancel"))

    async def recover(self) -> list[Entry]:
        return await self._drive(self._recover())

    async def reconcile(
        self, day: datetime.date, *, progress: reconcile_flows.Progress | None = None
    ) -> ReconciliationReport:
        return await self._drive(reconcile_flows.reconcile(self.setup, day, progress))

    async def sync_catalogue(
        self,
        *,
        full: bool = False,
        page_size: int | None = None,
        progress: CatalogueProgress | None = None,
    ) -> SyncReport:
        return await self._drive(self._sync_catalogue(full, page_size, progress))

    async def upload_mappings(self) -> MappingReport:
        return await self._drive(self._upload_mappings())

    async def aclose(self) -> None:
        """As ``SettlementClient.close``: the sign-in ended (9002), then everything closed."""
        try:
            await drive_async(self._sign_out(), self._http)
        except Exception as error:
            self._sign_out_failed(error)
        finally:
            await self._http.aclose()
            self._close_journal()

    async def __aenter__(self) -> AsyncSettlementClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def _drive(self, flow: Flow[T]) -> T:
        return await drive_async(flow, self._http, self.setup.checkpoint)


def drive(flow: Flow[T], http: httpx.Client, checkpoint: Checkpoint | None = None) -> T:
    """Run ``flow`` to its end over ``http``: the synchronous driver."""
    try:
        step = next(flow)
        while True:
            if isinstance(step, Pause):
                time.sleep(step.milliseconds / 1000)
                step = flow.send(None)
                continue
            if isinstance(step, Blocking):
                try:
                    done = step.call()
                except Exception as error:  # the journal's failure, raised where it was asked
                    step = flow.throw(error)
                else:
                    step = flow.send(done)
                continue
            try:
                if checkpoint is not None:
                    checkpoint(f"before send {step.method} {step.url.path}")
                response = http.send(step)
                response.read()
                if checkpoint is not None:
                    checkpoint(f"after send {step.method} {step.url.path}")
            except httpx.HTTPError as error:
                step = flow.throw(error)  # the flow decides what a lost answer means
            else:
                step = flow.send(response)
    except StopIteration as stop:
        result: T = stop.value
        return result


async def drive_async(
    flow: Flow[T], http: httpx.AsyncClient, checkpoint: Checkpoint | None = None
) -> T:
    """Run ``flow`` to its end over ``http``: the asynchronous driver."""
    import asyncio  # the async driver's alone: a sync till does not load it

    from gongji.off_loop import handed_over, off_loop

    try:
        step = next(flow)
        while True:
            if isinstance(step, Pause):
                await asyncio.sleep(step.milliseconds / 1000)
                step = flow.send(None)
                continue
            if isinstance(step, Blocking):
                # Off the loop: an fsync or a database round trip never stalls other sales.
                # A durable journal's write is handed to its group commit, and the sales'
                # writes waiting together share one commit; anything else runs in a pool
                # of threads of its own.
                try:
                    done = await (
                        off_loop(step.call) if step.later is None else handed_over(step.later)
                    )
                except Exception as error:
                    step = flow.throw(error)
                else:
                    step = flow.send(done)
                continue
            try:
                if checkpoint is not None:
                    checkpoint(f"before send {step.method} {step.url.path}")
                response = await http.send(step)
                await response.aread()
                if checkpoint is not None:
                    checkpoint(f"after send {step.method} {step.url.path}")
            except httpx.HTTPError as error:
                step = flow.throw(error)
            else:
                step = flow.send(response)
    except StopIteration as stop:
        result: T = stop.value
        return result
