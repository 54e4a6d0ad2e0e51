"""Registers the WeChat Pay APIv3 payment channel through ``gongji_register_adapters``.

Entry point ``wechatpay = "gongji_wechatpay.plugin"`` (group ``gongji``). The factory
is ``WechatPayChannel.from_settings``: a configuration profile's channel settings in,
a channel out (docs/reference/adapter-wechatpay.md lists the settings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gongji.hookspecs import hookimpl

# The registry's type only: loading a plugin (every `gongji` command does) imports no gateway.
if TYPE_CHECKING:
    from gongji.gateways.registry import RegisterAdapter


@hookimpl
def gongji_register_adapters(register: RegisterAdapter) -> None:
    from gongji_wechatpay.gateway import (
        WechatPayChannel,  # when called: loading the plugin costs nothing
    )

    register(
        WechatPayChannel.name,
        WechatPayChannel.from_settings,
        kind="channel",
        capabilities=WechatPayChannel.capabilities,
    )
