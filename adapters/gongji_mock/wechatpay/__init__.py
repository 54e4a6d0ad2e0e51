"""The mock's WeChat Pay APIv3: payment code, refunds, medical-insurance orders."""

#: Every path the mock's WeChat Pay answers starts here (the mock mounts it without
#: importing the endpoint, which is made on first use).
PREFIX = "/v3/"
