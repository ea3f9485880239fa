"""Real implementations of the ports, one per module, imported lazily (they are heavy)."""
