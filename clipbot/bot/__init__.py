"""Chat side: the platform-free core and thin adapters."""
