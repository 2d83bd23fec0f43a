"""Built-in YAML checks and the embedding model they use."""
