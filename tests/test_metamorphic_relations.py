"""Metamorphic relations: each one holding and violated, and the model relations against fake providers."""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import pytest

from pytest_llmops.providers.base import (
    Generation,
    GenerationParams,
    GenerationRequest,
    InfraError,
)
from pytest_llmops.suites.metamorphic.core import builtin_tables, resolve_relation
from pytest_llmops.suites.metamorphic.relations import Pair, chosen_option, first_json_or_none

_, RELATIONS = builtin_tables()


def check(name: str, source: Any, followup: Any, options: Any = None, **pair: Any) -> Any:
    relation, validated = resolve_relation({name: options} if options else name, RELATIONS)
    return relation.check(Pair(source, followup, **pair), validated)


def test_normalized_exact() -> None:
    assert check("normalized-exact", "Paris.", "  paris ").holds is True
    assert check("normalized-exact", "Ｐａｒｉｓ!", "paris").holds is True  # NFKC
    verdict = check("normalized-exact", "Paris", "Lyon")
    assert verdict.holds is False and "'paris' vs 'lyon'" in verdict.evidence


def test_label_equality() -> None:
    labels = {"labels": ["positive", "negative", "neutral"]}
    assert check("label-equality", "It is positive.", "Positive!", labels).holds is True
    verdict = check("label-equality", "The review is positive.", "Sentiment: negative", labels)
    assert verdict.holds is False and verdict.details == {"source_label": "positive", "followup_label": "negative"}
    # The first keyword wins; no label on either side is the same label.
    assert check("label-equality", "neutral, not positive", "neutral", labels).holds is True
    assert check("label-equality", "hmm", "well", labels).holds is True
    keywords = {"labels": {"yes": ["yes", "approve"], "no": ["no", "reject"]}}
    assert check("label-equality", "I approve.", "Yes.", keywords).holds is True


def test_json_field_equality() -> None:
    fields = {"fields": ["name", "age"]}
    a = '```json\n{"name": "Alice", "age": 30, "city": "Oslo"}\n```'
    assert check("json-field-equality", a, 'Sure: {"name": "alice", "age": 30, "city": "Lima"}', fields).holds is True
    differ = check("json-field-equality", a, '{"name": "Alice", "age": 31}', fields)
    assert differ.holds is False and "age: 30 vs 31" in differ.evidence
    assert check("json-field-equality", a, "not json", fields).holds is False
    assert check("json-field-equality", "no", "nothing", fields).holds is True
    assert first_json_or_none('text {"a": [1, 2]} more') == {"a": [1, 2]}


def test_numeric_tolerance() -> None:
    assert check("numeric-tolerance", "It is 19.", "19", None).holds is True
    assert check("numeric-tolerance", "1,000 people", "1000", None).holds is True
    assert check("numeric-tolerance", "19", "20", {"tolerance": 1}).holds is True
    assert check("numeric-tolerance", "100", "104", {"relative": 0.05}).holds is True
    assert check("numeric-tolerance", "19", "21", {"tolerance": 1}).holds is False
    assert check("numeric-tolerance", "19", "nineteen", None).holds is False


def test_embedding_cosine(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeEmbedder:
        def cosine(self, a: str, b: str) -> float:
            return 0.9 if a.split()[0] == b.split()[0] else 0.1

    from pytest_llmops.suites.metamorphic import output_relations

    monkeypatch.setattr(output_relations, "shared_embedder", lambda: FakeEmbedder())
    assert check("embedding-cosine", "Paris is big", "Paris is large", {"threshold": 0.8}).holds is True
    verdict = check("embedding-cosine", "Paris is big", "Lyon is big", {"threshold": 0.8})
    assert verdict.holds is False and verdict.details == {"cosine": 0.1}
    assert check("embedding-cosine", "Same!", "same", None).details == {"cosine": 1.0}  # no model needed


def test_follows_option() -> None:
    source = {"options": ["Lyon", "Paris", "Nice"]}
    followup = {"options": ["Paris", "Nice", "Lyon"]}
    assert check("follows-option", "B. Paris", "A", source_sample=source, followup_sample=followup).holds is True
    assert check("follows-option", "The answer is B", "Paris", source_sample=source,
                 followup_sample=followup).holds is True
    wrong = check("follows-option", "B. Paris", "B. Nice", source_sample=source, followup_sample=followup)
    assert wrong.holds is False and wrong.details["expected_choice"] == "A"
    assert check("follows-option", "I am not sure", "A", source_sample=source,
                 followup_sample=followup).holds is None
    assert chosen_option("A good question. I think Nice.", ["Lyon", "Paris", "Nice"]) == 2  # "A" as an article


def test_label_flip() -> None:
    options = {"labels": ["positive", "negative", "neutral"], "expect": {"positive": "negative",
                                                                          "negative": "positive"}}
    assert check("label-flip", "positive", "negative", options).holds is True
    assert check("label-flip", "positive", "positive", options).holds is False
    assert check("label-flip", "positive", "neutral", options).holds is False  # a change, not a flip
    assert check("label-flip", "no idea", "negative", options).holds is None
    assert check("label-flip", "positive", "neutral", {"labels": ["positive", "neutral"]}).holds is True


def test_abstains() -> None:
    assert check("abstains", "It is 212 metres.", "I don't know.").holds is True
    assert check("abstains", "It is 212 metres.", "The context does not contain it.").holds is True
    assert check("abstains", "It is 212 metres.", "It is 100 metres.").holds is False
    assert check("abstains", "I do not know.", "I don't know.").holds is None  # nothing to change from


def test_follows_edit() -> None:
    changes = [{"op": "counterfactual", "from": "212", "to": "305"}]
    assert check("follows-edit", "It is 212 m", "It is 305 m", changes=changes).holds is True
    stale = check("follows-edit", "It is 212 m", "It is 212 or 305 m", changes=changes)
    assert stale.holds is False and "still says ['212']" in stale.evidence
    assert check("follows-edit", "It is 212 m", "It is tall", changes=changes).holds is False
    assert check("follows-edit", "No idea", "It is 305 m", changes=changes).holds is None
    assert check("follows-edit", "6:40", "8:15 am", changes=[{"from": "6:40", "to": "8:15"}]).holds is True


def test_same_correctness() -> None:
    sample = {"answer": ["three", "3"]}
    assert check("same-correctness", "Three accounts.", "3", source_sample=sample, followup_sample=sample).holds
    verdict = check("same-correctness", "three", "five", source_sample=sample, followup_sample=sample)
    assert verdict.holds is False and verdict.evidence == "right -> wrong"
    assert check("same-correctness", "five", "four", source_sample=sample, followup_sample=sample).holds is True


def test_relation_options_are_validated() -> None:
    with pytest.raises(ValueError, match="'labels' is required"):
        resolve_relation("label-equality", RELATIONS)
    with pytest.raises(ValueError, match="quote yes/no"):
        resolve_relation({"label-equality": {"labels": [True, False]}}, RELATIONS)
    with pytest.raises(ValueError, match="'threshold' must be a number"):
        resolve_relation({"embedding-cosine": {"threshold": 2}}, RELATIONS)
    with pytest.raises(LookupError, match="unknown relation 'nope'; known: abstains, batch-invariance"):
        resolve_relation("nope", RELATIONS)


# -- model relations against fake providers ------------------------------------------------

def _user(request: GenerationRequest) -> str:
    return [content for role, content in request.messages if role == "user"][-1]


class GoodProvider:
    """Greedy and batch-invariant: each output depends on its own prompt only."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        self.calls.append(len(requests))
        out: list[Generation | InfraError] = []
        for request in requests:
            words = [f"w{hashlib.sha256((_user(request) + str(i)).encode()).hexdigest()[:3]}" for i in range(40)]
            n = request.params.max_new_tokens
            out.append(Generation(" ".join(words[:n]), output_tokens=n, finish_reason="length",
                                  batch_size=len(requests)))
        return out


class RightPadNoMask(GoodProvider):
    """Emulates padding on the right without an attention mask: each prompt of a batch is
    padded to the longest one and the model reads the pad tokens as input."""

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
        width = max(len(_user(r)) for r in requests)
        padded = [GenerationRequest.prompt(_user(r) + "<pad>" * (width - len(_user(r))), params=r.params)
                  for r in requests]
        return [Generation(g.text, g.output_tokens, g.finish_reason, batch_size=len(requests))  # type: ignore[union-attr]
                for g in super().generate_batch(padded)]


class Streaming(GoodProvider):
    def __init__(self, broken: bool = False) -> None:
        super().__init__()
        self.broken = broken

    def stream(self, request: GenerationRequest) -> list[tuple[float, str]]:
        text = super().generate_batch([request])[0].text  # type: ignore[union-attr]
        pieces = [(0.01 * i, word + " ") for i, word in enumerate(text.split())]
        return pieces[:-1] if self.broken else pieces


REQUEST = GenerationRequest.prompt("What is the capital of France?", params=GenerationParams(max_new_tokens=16))


def run(name: str, provider: Any, request: GenerationRequest = REQUEST, options: Any = None) -> Any:
    relation, validated = resolve_relation({name: options} if options else name, RELATIONS)
    return relation.run(provider, request, validated)


def test_batch_invariance_catches_right_padding_without_a_mask() -> None:
    good = run("batch-invariance", GoodProvider())
    assert good.holds is True and good.details["batch_size"] == 3
    bad = run("batch-invariance", RightPadNoMask())
    assert bad.holds is False and "in a batch of 3" in bad.evidence
    assert bad.details["alone"] != bad.details["batched"]
    # The longest prompt of a batch is not padded: fillers must include a longer one.
    assert len(bad.details["fillers"][0]) > len(_user(REQUEST))


def test_batch_invariance_needs_a_real_batch_and_greedy_decoding() -> None:
    class OneByOne(GoodProvider):
        def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
            one = super().generate_batch
            return [g for r in requests for g in one([r])]

    assert run("batch-invariance", OneByOne()).holds is None
    sampled = GenerationRequest.prompt("x", params=GenerationParams(temperature=0.7))
    assert run("batch-invariance", GoodProvider(), sampled).holds is None


def test_prefix_consistency() -> None:
    verdict = run("prefix-consistency", GoodProvider(), options={"k": 4})
    assert verdict.holds is True and verdict.details["k"] == 4

    class Drifting(GoodProvider):
        def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
            out = super().generate_batch(requests)
            return [Generation(f"len{r.params.max_new_tokens} " + g.text, finish_reason="length")  # type: ignore[union-attr]
                    for r, g in zip(requests, out)]

    assert run("prefix-consistency", Drifting(), options={"k": 4}).holds is False


def test_stream_consistency() -> None:
    assert run("stream-consistency", Streaming()).holds is True
    broken = run("stream-consistency", Streaming(broken=True))
    assert broken.holds is False and broken.details["stream"] == "provider.stream"
    cannot = run("stream-consistency", GoodProvider())
    assert cannot.holds is None and "cannot stream" in cannot.evidence


def test_model_relation_raises_infra_errors() -> None:
    class Down(GoodProvider):
        def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation | InfraError]:
            return [InfraError("endpoint down")] * len(requests)

    with pytest.raises(InfraError, match="endpoint down"):
        run("batch-invariance", Down())
