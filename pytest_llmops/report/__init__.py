"""Reports: the canonical JSON report (schema-versioned) and what is rendered from it."""

SCHEMA_VERSION = 1
