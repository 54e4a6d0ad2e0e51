"""The Alipay OpenAPI payment channel for gongji (being built; see plugin.py)."""
