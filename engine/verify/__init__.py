"""Check rule changes: example districts, exhaustive combinations, impact reports, the pytest plugin."""
