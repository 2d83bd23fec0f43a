"""Compatibility path: the default RAG pipeline lives in :mod:`pytest_llmops.core.rag_default`.

Suite files and ini keys written before the move name ``pytest_llmops.rag_example:make_pipeline``;
that dotted path keeps working.
"""

from pytest_llmops.core.rag_default import *  # noqa: F401,F403
from pytest_llmops.core.rag_default import SYSTEM, ExampleRagPipeline, load_corpus, make_pipeline  # noqa: F401
