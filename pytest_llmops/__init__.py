"""pytest-llmops: a pytest plugin and CI evaluation harness for LLM applications.

This module stays import-light on purpose: pytest imports the plugin on every run.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
