"""Read and check the rules: YAML/JSON with positions, JSON Schema, the model, semantic checks."""
