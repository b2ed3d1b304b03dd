"""JSON Schemas shipped with the package (data only)."""
