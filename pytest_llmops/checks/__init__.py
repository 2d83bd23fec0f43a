"""Built-in YAML checks, the reference-free quality detectors behind some of them, and the embedding model."""
