"""The mock's Alipay OpenAPI gateway: bar-code payments, query, cancel, refund."""

#: The one path of Alipay's gateway (the mock mounts it without importing the endpoint).
PATH = "/gateway.do"
