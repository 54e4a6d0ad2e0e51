"""Adapters by name: what ``gongji_register_adapters`` fills and a profile's tables name.

An adapter registers a *factory*: given its settings (a profile's ``[gateway]`` or
``[channels.<name>]`` table, ``adapter`` taken out) and the configuration file's
folder, it returns a gateway or a channel. Relative paths in the settings (key
files, secret files) are read from that folder, through ``gongji.gateways.secrets``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from attrs import field, frozen

from gongji.errors import ConfigError
from gongji.gateways.protocols import Capability, InsuranceGateway, PaymentChannel
from gongji.gateways.voucher import VoucherDecoder

__all__ = [
    "AdapterFactory",
    "AdapterKind",
    "AdapterRegistry",
    "ChannelFactory",
    "DecoderFactory",
    "GatewayFactory",
    "RegisterAdapter",
    "RegisteredAdapter",
]

AdapterKind = Literal["insurance", "channel", "decoder"]


class GatewayFactory(Protocol):
    """Builds an insurance gateway from its settings; relative paths resolve from ``config_dir``."""

    def __call__(self, settings: Mapping[str, Any], config_dir: Path, /) -> InsuranceGateway: ...


class ChannelFactory(Protocol):
    """Builds a payment channel from its settings; relative paths resolve from ``config_dir``."""

    def __call__(self, settings: Mapping[str, Any], config_dir: Path, /) -> PaymentChannel: ...


class DecoderFactory(Protocol):
    """Builds an e-voucher decoder from its settings (a profile's ``[decoder]`` table)."""

    def __call__(self, settings: Mapping[str, Any], config_dir: Path, /) -> VoucherDecoder: ...


AdapterFactory = GatewayFactory | ChannelFactory | DecoderFactory


class RegisterAdapter(Protocol):
    """What ``gongji_register_adapters`` is handed: call it once per adapter. The plugin it
    came from is recorded by gongji, not given by the adapter."""

    def __call__(
        self,
        name: str,
        factory: AdapterFactory,
        *,
        kind: AdapterKind,
        capabilities: Iterable[Capability] = (),
    ) -> None: ...


@frozen
class RegisteredAdapter:
    name: str
    kind: AdapterKind
    factory: AdapterFactory = field(repr=False)
    capabilities: frozenset[Capability] = frozenset()
    origin: str = ""  # the plugin that registered it, as `gongji plugins` names it


class AdapterRegistry:
    """Adapter factories by name, filled through ``gongji_register_adapters``."""

    def __init__(self) -> None:
        self._adapters: dict[str, RegisteredAdapter] = {}

    def register(
        self,
        name: str,
        factory: AdapterFactory,
        *,
        kind: AdapterKind,
        capabilities: Iterable[Capability] = (),
        origin: str = "",
    ) -> None:
        if name in self._adapters:
            raise ConfigError(
                f"Two adapters are registered as {name!r} "
                f"({self._adapters[name].origin or 'built in'} and {origin or 'built in'}).",
                next_step="Uninstall one of them or block it with GONGJI_DISABLE_PLUGINS.",
            )
        self._adapters[name] = RegisteredAdapter(
            name=name,
            kind=kind,
            factory=factory,
            capabilities=frozenset(capabilities),
            origin=origin,
        )

    def registrar(self, origin: str) -> RegisterAdapter:
        """The ``register`` handed to one plugin's hook: it records ``origin`` itself."""

        def register(
            name: str,
            factory: AdapterFactory,
            *,
            kind: AdapterKind,
            capabilities: Iterable[Capability] = (),
        ) -> None:
            self.register(name, factory, kind=kind, capabilities=capabilities, origin=origin)

        return register

    def get(self, name: str, kind: AdapterKind) -> RegisteredAdapter:
        found = self._adapters.get(name)
        if found is None or found.kind != kind:
            known = ", ".join(sorted(n for n, a in self._adapters.items() if a.kind == kind))
            raise ConfigError(
                f"No {kind} adapter is registered as {name!r}.",
                next_step=f"Use one of: {known or 'none installed'}; `gongji plugins` lists them.",
            )
        return found

    def gateway(self, name: str, settings: Mapping[str, Any], config_dir: Path) -> InsuranceGateway:
        """The insurance gateway ``name``'s factory builds from ``settings``."""
        built = self.get(name, "insurance").factory(settings, config_dir)
        if not isinstance(built, InsuranceGateway):
            raise _not_what_was_registered(self.get(name, "insurance"), "an insurance gateway")
        return built

    def channel(self, name: str, settings: Mapping[str, Any], config_dir: Path) -> PaymentChannel:
        """The payment channel ``name``'s factory builds from ``settings``."""
        built = self.get(name, "channel").factory(settings, config_dir)
        if not isinstance(built, PaymentChannel):
            raise _not_what_was_registered(self.get(name, "channel"), "a payment channel")
        return built

    def decoder(self, name: str, settings: Mapping[str, Any], config_dir: Path) -> VoucherDecoder:
        """The e-voucher decoder ``name``'s factory builds from ``settings``."""
        built = self.get(name, "decoder").factory(settings, config_dir)
        if not isinstance(built, VoucherDecoder):
            raise _not_what_was_registered(self.get(name, "decoder"), "an e-voucher decoder")
        return built

    def __iter__(self) -> Iterator[RegisteredAdapter]:
        return iter(sorted(self._adapters.values(), key=lambda a: (a.kind, a.name)))


def _not_what_was_registered(adapter: RegisteredAdapter, what: str) -> ConfigError:
    # A plugin's bug, caught before the client holds an object the flows cannot drive.
    return ConfigError(
        f"The {adapter.name} adapter ({adapter.origin or 'built in'}) did not build {what}.",
        next_step="Report it to the adapter's authors; its factory must return "
        f"{what} (gongji.gateways).",
    )
