"""Under pytest-xdist with several models, keep each model's work on its own workers.

xdist's default ``--dist load`` hands tests to whichever worker is free, so with two models
and two workers both workers soon hold both models' weights. With several ``--llm-model``s
the run switches xdist to ``--dist loadgroup`` and puts every item of a model in one group
(``xdist_group``), so a worker loads only the models of the groups it was given; with as
many workers as models each holds one. A run with one model, or a ``--dist`` mode other than
xdist's default, is left as it is.
"""

from __future__ import annotations

from typing import Any

import pytest

# The attribute that remembers the group an item was put in: xdist appends ``@<group>`` to the
# node id, and the shard plan strips it again so a shard's selection does not depend on xdist.
GROUP_ATTRIBUTE = "llmops_xdist_group"
WORKER_INPUT_KEY = "llmops_group_by_model"


def item_alias(item: Any) -> str | None:
    """The model alias an item runs against: a suite case's, or a test parametrized by ``llm_alias``."""
    alias = getattr(item, "alias", None)
    if isinstance(alias, str):
        return alias
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        value = callspec.params.get("llm_alias")
        return value if isinstance(value, str) else None
    return None


def group_by_model(config: pytest.Config, aliases: list[str]) -> bool:
    """Switch an xdist controller from ``--dist load`` to ``loadgroup`` when the run has several models.

    Returns whether items are grouped by model in this run (on the controller and, through the
    options xdist hands its workers, on every worker).
    """
    if len(set(aliases)) < 2:
        return False
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        # A worker parses the command line afresh (``-n 2`` alone reads as ``--dist no`` there):
        # the controller's choice comes in the worker's input (ModelGroups.pytest_configure_node).
        grouped = bool(workerinput.get(WORKER_INPUT_KEY, False))
        if grouped:
            config.option.loadgroup = True  # what makes xdist append each item's group to its node id
        return grouped
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"
    return getattr(config.option, "dist", "no") == "loadgroup"


def mark_model_groups(items: list[Any]) -> int:
    """Put every item that runs against a model in that model's ``xdist_group``; how many were marked."""
    marked = 0
    for item in items:
        alias = item_alias(item)
        if alias is None or item.get_closest_marker("xdist_group") is not None:
            continue  # a test's own group wins
        item.add_marker(pytest.mark.xdist_group(f"llm-{alias}"))
        setattr(item, GROUP_ATTRIBUTE, f"llm-{alias}")
        marked += 1
    return marked


class ModelGroups:
    """The pytest plugin that tells the workers to group, and marks the groups before xdist reads them."""

    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: each worker learns that items are grouped by model."""
        node.workerinput[WORKER_INPUT_KEY] = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        mark_model_groups(items)


def plain_nodeid(item: Any) -> str:
    """The item's node id without the ``@group`` xdist appended for :func:`mark_model_groups`."""
    group = getattr(item, GROUP_ATTRIBUTE, None)
    nodeid: str = item.nodeid
    return nodeid.removesuffix(f"@{group}") if group else nodeid
