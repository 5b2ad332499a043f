"""Built-in exercise packs. Each pack registers itself through the entry-point group."""
