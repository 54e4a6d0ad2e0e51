"""Registers the WeChat Pay APIv3 channel through ``gongji_register_adapters`` (not yet: being built)."""
