"""Libraries logged without code changes: one package per library, on one mechanism."""
