"""The mock centre's national interface (NATIONAL.md): one endpoint for every transaction code."""
