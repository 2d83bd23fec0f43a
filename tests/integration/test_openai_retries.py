"""Endpoint faults against a real server: a loopback proxy in front of llama.cpp injects each fault
(``pytest_llmops.integrations.fault_proxy``)."""

from __future__ import annotations

from typing import Iterator

import pytest

from pytest_llmops.integrations.fault_proxy import FaultyProxy
from pytest_llmops.providers.base import GenerationParams, GenerationRequest, InfraError
from pytest_llmops.providers.openai_provider import OpenAIProvider
from pytest_llmops.core.specs import parse_spec

pytestmark = pytest.mark.slow


# The client's timeout in the stall tests; the proxy stalls 10 s longer. Generous because the
# real answer after a stall must also arrive within it: 8 s was too short at load 4-6 on 2 cores.
STALL_TIMEOUT_S = 20


@pytest.fixture
def make_proxy(llama_server) -> Iterator:
    proxies: list[FaultyProxy] = []

    def make(failures: list[int | str]) -> FaultyProxy:
        proxies.append(FaultyProxy(llama_server.base_url, failures, stall_s=STALL_TIMEOUT_S + 10))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


REQUEST = GenerationRequest.prompt("What is 2+2? Answer with a number only.", params=GenerationParams(max_new_tokens=8))


def test_429_and_503_are_retried_then_answered(make_proxy) -> None:
    proxy = make_proxy([429, 503])
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=3"))
    provider.backoff_base = 0.05
    (result,) = provider.generate_batch([REQUEST])
    assert not isinstance(result, InfraError)
    assert "4" in result.text
    assert proxy.seen == [429, 503, 200]


def test_exhausted_retries_are_an_infra_error(make_proxy) -> None:
    proxy = make_proxy([503, 503, 503])
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=2"))
    provider.backoff_base = 0.05
    (result,) = provider.generate_batch([REQUEST])
    assert isinstance(result, InfraError)
    assert "gave up after 3 attempts" in str(result) and "503" in str(result)


def test_client_errors_are_not_retried(make_proxy) -> None:
    proxy = make_proxy([400])
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=3"))
    (result,) = provider.generate_batch([REQUEST])
    assert isinstance(result, InfraError) and "400" in str(result)
    assert proxy.seen == [400]


@pytest.mark.parametrize("fault", ["malformed", "empty", "no_choices", "html", "reset", "stall", "wrong_model",
                                   "no_finish", 500])
def test_every_endpoint_fault_ends_with_the_real_answer_after_a_retry(make_proxy, fault: int | str) -> None:
    proxy = make_proxy([fault])
    # A short timeout only where the fault is a stall: the real answer must still fit in it on a busy machine.
    timeout = STALL_TIMEOUT_S if fault == "stall" else 120
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=2&timeout={timeout}"))
    provider.backoff_base = 0.05
    (result,) = provider.generate_batch([REQUEST])
    assert not isinstance(result, InfraError), result
    assert "4" in result.text and result.finish_reason  # the model's own answer, never the broken body
    assert proxy.seen == [fault, 200]


@pytest.mark.parametrize("fault", ["malformed", "wrong_model", "no_finish"])
def test_a_fault_that_persists_is_an_infra_error_never_an_answer(make_proxy, fault: str) -> None:
    proxy = make_proxy([fault] * 3)
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=2"))
    provider.backoff_base = 0.05
    (result,) = provider.generate_batch([REQUEST])
    assert isinstance(result, InfraError) and "gave up after 3 attempts" in str(result)


def test_a_slow_drip_is_a_whole_answer(make_proxy) -> None:
    proxy = make_proxy(["drip"])
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?max_retries=0"))
    (result,) = provider.generate_batch([REQUEST])
    assert not isinstance(result, InfraError) and "4" in result.text
    assert proxy.seen == ["drip"]


LONG_REQUEST = GenerationRequest.prompt("Count from one to thirty in words, separated by commas.",
                                        params=GenerationParams(max_new_tokens=64))


@pytest.mark.parametrize("fault", ["stream_cut", "stream_stall", "stream_no_finish"])
def test_a_stream_cut_short_is_an_infra_error_never_a_shorter_answer(make_proxy, fault: str) -> None:
    proxy = make_proxy([fault])
    provider = OpenAIProvider(parse_spec(f"openai:smollm2@{proxy.base_url}?timeout={STALL_TIMEOUT_S}"))
    with pytest.raises(InfraError, match="stream") as caught:
        provider.stream(LONG_REQUEST)
    assert "Traceback" not in str(caught.value)
    pieces = provider.stream(LONG_REQUEST)  # the next stream, unharmed, is whole
    assert len(pieces) > 3  # past the point where the proxy cut the first one, and finished (or stream() raises)
    assert proxy.seen == [fault, 200]
