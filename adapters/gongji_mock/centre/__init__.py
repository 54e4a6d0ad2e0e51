"""The mock insurance centre: its dataset, its own decisions and state, its ledger."""
