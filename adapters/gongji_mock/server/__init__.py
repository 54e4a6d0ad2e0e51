"""The mock served: over HTTP (ASGI), its admin endpoint and dashboard, callback delivery."""
