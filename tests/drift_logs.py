"""Small generated interaction logs for the drift tests (seeded; text written for the tests)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

START = datetime(2026, 10, 1, tzinfo=timezone.utc)
TOPICS = {
    "shipping": ["Where is my parcel {n}?", "How long does delivery to zone {n} take?",
                 "Can I change the shipping address for order {n}?", "My package {n} shows delivered but is not here"],
    "account": ["How do I reset my password for account {n}?", "I cannot log in to account {n}",
                "How do I change the email on account {n}?", "Please close my account {n}"],
    "billing": ["Which plan includes {n} seats?", "Can I pay invoice {n} by bank transfer?",
                "Why did the price of plan {n} change?", "Where do I download receipt {n}?"],
    "refund": ["I want a refund for order {n}", "My card was charged twice for order {n}, I will file a chargeback",
               "How do I dispute charge {n} with my bank?", "Refund order {n} to my original card please"],
}
ANSWER = "Sure. Open the orders page, pick the order and follow the steps shown there; it takes a minute."
REFUSAL = "I'm sorry, but I can't help with that request."


def interaction(i: int, topic: str, rng: random.Random, refused: bool = False, segment: str = "pro",
                hours: float = 1.0) -> dict[str, Any]:
    """One log line: a user question on ``topic``, the logged answer, a timestamp ``i * hours`` after START."""
    question = rng.choice(TOPICS[topic]).format(n=rng.randint(100, 9999))
    return {"id": f"q{i}", "timestamp": (START + timedelta(hours=i * hours)).isoformat().replace("+00:00", "Z"),
            "messages": [{"role": "system", "content": "You are the support assistant."},
                         {"role": "user", "content": question}],
            "answer": REFUSAL if refused else ANSWER, "metadata": {"segment": segment, "topic": topic}}


def write_log(path: Path, n: int, seed: int = 0, shift_after: int | None = None, new_share: float = 0.35,
              refusal: float = 0.05, refusal_after: float | None = None, hours: float = 1.0) -> Path:
    """``n`` lines; from line ``shift_after`` on, ``refund`` questions take ``new_share`` of traffic
    (2% before) and the refusal rate becomes ``refusal_after``."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        late = shift_after is not None and i >= shift_after
        share = new_share if late else 0.02
        topic = "refund" if rng.random() < share else rng.choice(["shipping", "account", "billing"])
        rate = refusal_after if late and refusal_after is not None else refusal
        lines.append(json.dumps(interaction(i, topic, rng, rng.random() < rate,
                                            rng.choice(["free", "pro"]), hours)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
