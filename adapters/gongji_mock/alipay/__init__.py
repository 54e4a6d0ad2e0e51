"""The mock's Alipay OpenAPI gateway: bar-code payments, query, cancel, refund."""
