"""Fake model servers on loopback that speak each provider's real wire protocol, with faults."""
