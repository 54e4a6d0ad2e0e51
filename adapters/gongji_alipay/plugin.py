"""Registers the Alipay OpenAPI channel through ``gongji_register_adapters``.

Entry point ``alipay = "gongji_alipay.plugin"`` (group ``gongji``): the factory is
``AlipayChannel.from_settings``, called with a configuration profile's settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gongji.hookspecs import hookimpl

# The registry's type only: loading a plugin (every `gongji` command does) imports no gateway.
if TYPE_CHECKING:
    from gongji.gateways.registry import RegisterAdapter


@hookimpl
def gongji_register_adapters(register: RegisterAdapter) -> None:
    from gongji_alipay.gateway import AlipayChannel  # when called: loading the plugin costs nothing

    register(
        "alipay",
        AlipayChannel.from_settings,
        kind="channel",
        capabilities=AlipayChannel.capabilities,
    )
