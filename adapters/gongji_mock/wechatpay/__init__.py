"""The mock's WeChat Pay APIv3: payment code, refunds, medical-insurance orders."""
