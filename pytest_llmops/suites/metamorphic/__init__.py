"""The metamorphic suite: relations that must hold between outputs, for models, prompts and RAG.

- :mod:`.perturbations`: seeded, deterministic input perturbations that record what they changed;
- :mod:`.relations`: output relations (invariance, equivariance, directional);
- :mod:`.model_relations`: relations checked against the provider (prefix, batch, streaming);
- :mod:`.kind`: the ``metamorphic`` YAML suite kind (``KIND``) and its metrics;
- :mod:`.api`: the Python API behind the ``metamorphic`` fixture;
- :mod:`.builtins`: the hooks that register the built-in perturbations and relations.

Reference: docs/metamorphic.md.
"""

from pytest_llmops.suites.metamorphic.kind import KIND

__all__ = ["KIND"]
