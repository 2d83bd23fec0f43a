"""The metamorphic suite: relations that must hold between outputs, for models, prompts and RAG.

- :mod:`.perturbations`: seeded, deterministic input perturbations that record what they changed;
- :mod:`.relations`: the relation protocol and the helpers relations read outputs with;
- :mod:`.output_relations`: the built-in output relations (invariance, equivariance, directional);
- :mod:`.model_relations`: relations checked against the provider (prefix, batch, streaming);
- :mod:`.core`: what the YAML kind and the Python API share (tables, follow-ups, verdicts);
- :mod:`.kind`: the ``metamorphic`` YAML suite kind (``KIND``): plan, measure, evaluate;
- :mod:`.blocks`, :mod:`.inputs`, :mod:`.rendering`: collecting a suite file into cases;
- :mod:`.aggregate`: the suite's metrics (violation rate, no-ops, position gap);
- :mod:`.api`: the Python API behind the ``metamorphic`` fixture;
- :mod:`.hookspecs`, :mod:`.plugin`: the extension points and the hooks that register the built-ins;
- :mod:`.fixture`: the ``metamorphic`` pytest fixture (a ``pytest11`` plugin: this package is
  imported on every pytest run, so it imports none of its modules itself).

Reference: docs/metamorphic.md.
"""
