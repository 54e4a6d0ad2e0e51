"""The WeChat Pay APIv3 payment channel for gongji (being built; see plugin.py)."""
