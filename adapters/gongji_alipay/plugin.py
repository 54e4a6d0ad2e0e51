"""Registers the Alipay OpenAPI channel through ``gongji_register_adapters`` (not yet: being built)."""
