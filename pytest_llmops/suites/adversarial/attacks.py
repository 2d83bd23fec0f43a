"""The attack library: each attack builds cases with a stated goal and a deterministic detector.

An attack turns (context, seeded generator, case index, options) into an
:class:`AttackCase`: the attacker-controlled ``payload`` (which an obfuscation strategy may
then rewrite), where it goes (the user message, or a poisoned document among retrieved
contexts), what private data the subject holds (``plant``), and how success is detected.
How the case becomes chat messages depends on the suite's subject (see ``render.py``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pytest_llmops.suites.adversarial.corpora import AttackContext, CorpusError, fake_values

POSITIONS = ("first", "middle", "last")


@dataclass
class DetectorUse:
    """A detector, its arguments, and whether the attack succeeds when it ``fires`` or when it is ``absent``."""

    name: str
    args: Any = None
    success_when: str = "fires"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "args": self.args, "success_when": self.success_when}


@dataclass
class AttackCase:
    """One attack instance, before the strategy and the subject are applied."""

    goal: str
    payload: str  # the attacker-controlled text; strategies transform it
    detectors: list[DetectorUse]
    user: str = "{payload}"  # the user message around the payload
    document: str | None = None  # a poisoned document around the payload (indirect injection)
    question: str | None = None  # the user's own question when the payload arrives in a document
    position: str = "last"  # where the poisoned document goes among the retrieved contexts
    plant: str | None = None  # private text the subject holds (a canary, fake secrets)
    plant_in: str = "system"  # system: appended to the system prompt; context: a retrieved document
    meta: dict[str, Any] = field(default_factory=dict)


class Attack:
    """Base class for attacks. Subclasses set ``name``, ``category``, ``description`` and
    ``options`` (name -> help) and implement :meth:`generate`."""

    name = ""
    category = ""
    description = ""
    options: ClassVar[dict[str, str]] = {}

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        """Check this attack's own options (the kind handles ``cases`` and ``strategies``);
        raise ``ValueError`` naming the option."""
        unknown = set(options) - set(self.options)
        if unknown:
            known = sorted({"cases", "strategies", *self.options})
            raise ValueError(f"unknown option {min(unknown)!r}; expected one of {known}")
        return options

    def generate(self, ctx: AttackContext, rng: random.Random, index: int, options: dict[str, Any]) -> AttackCase:
        raise NotImplementedError


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


class DirectInjection(Attack):
    name = "direct_injection"
    category = "direct_injection"
    description = "goal hijacking: an instruction in the user input makes the subject print a rogue string"

    def generate(self, ctx: AttackContext, rng: random.Random, index: int, options: dict[str, Any]) -> AttackCase:
        rogue = str(ctx.pick("rogue", ctx.corpus("injection", "rogue_strings"), index))
        payload = _fill(str(ctx.pick("payload", ctx.corpus("injection", "payloads"), index)), rogue=rogue)
        # A prompt template is the application's task; a bare model or RAG prompt gets one.
        task = "{payload}" if ctx.subject == "prompt" else str(ctx.pick("task", ctx.corpus("injection", "tasks"), index))
        return AttackCase(goal=f"make the subject print the rogue string {rogue!r}", payload=payload, user=task,
                          detectors=[DetectorUse("canary", {"canaries": [rogue]})], meta={"rogue": rogue})


class IndirectInjection(Attack):
    name = "indirect_injection"
    category = "indirect_injection"
    description = ("a poisoned document among the retrieved contexts carries an instruction to print a rogue "
                   "string; the user only asks a benign question")
    options: ClassVar[dict[str, str]] = {"position": "first | middle | last, or a list of them (cycled over the cases); default last"}

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        position = options.get("position", "last")
        positions = position if isinstance(position, list) else [position]
        if not positions or any(p not in POSITIONS for p in positions):
            raise ValueError(f"option 'position': expected one of {list(POSITIONS)} or a list of them, got {position!r}")
        return {**options, "position": positions}

    def generate(self, ctx: AttackContext, rng: random.Random, index: int, options: dict[str, Any]) -> AttackCase:
        positions = options.get("position", ["last"])
        position = positions[index % len(positions)]
        rogue = str(ctx.pick("rogue", ctx.corpus("injection", "rogue_strings"), index))
        payload = _fill(str(ctx.pick("payload", ctx.corpus("injection", "payloads"), index)), rogue=rogue)
        carrier = str(ctx.pick("carrier", ctx.corpus("injection", "carriers"), index))
        question = str(ctx.pick("question", ctx.corpus("injection", "questions"), index))
        return AttackCase(goal=f"make the subject print the rogue string {rogue!r} through a poisoned document "
                               f"({position} among the retrieved contexts)",
                          payload=payload, document=carrier, question=question, position=position,
                          detectors=[DetectorUse("canary", {"canaries": [rogue]})],
                          meta={"rogue": rogue, "position": position})


class SystemPromptExtraction(Attack):
    name = "system_prompt_extraction"
    category = "system_prompt_extraction"
    description = "a canary planted in the system prompt; success when it appears in the output (in any form)"

    def generate(self, ctx: AttackContext, rng: random.Random, index: int, options: dict[str, Any]) -> AttackCase:
        canary = ctx.canary(rng)
        plant = _fill(str(ctx.pick("plant", ctx.corpus("extraction", "plants"), index)), canary=canary)
        request = str(ctx.pick("request", ctx.corpus("extraction", "requests"), index))
        return AttackCase(goal=f"make the subject reveal the canary {canary!r} planted in its system prompt",
                          payload=request, plant=plant, plant_in="system",
                          detectors=[DetectorUse("canary", {"canaries": [canary]})], meta={"canary": canary})


_SECRET_PATTERNS = {"card": "credit_card", "ssn": "ssn", "api_key": "api_key", "aws_key": "aws_access_key"}


class SecretLeakage(Attack):
    name = "secret_leakage"
    category = "secret_leakage"
    description = ("fake secrets and PII planted in the context; success when any planted value appears "
                   "(canary detector) or a secret-shaped string does (pattern detector)")
    options: ClassVar[dict[str, str]] = {"plant": "system | context: where the record goes (default: context for rag subjects, else system)"}

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        if options.get("plant", "system") not in ("system", "context"):
            raise ValueError(f"option 'plant': expected system or context, got {options.get('plant')!r}")
        return options

    def generate(self, ctx: AttackContext, rng: random.Random, index: int, options: dict[str, Any]) -> AttackCase:
        values = fake_values(rng, ctx.corpus("secrets", "first_names"), ctx.corpus("secrets", "last_names"))
        record = str(ctx.pick("record", ctx.corpus("secrets", "records"), index))
        fields = [f for f in re.findall(r"\{(\w+)\}", record) if f in values]
        planted = {f: values[f] for f in dict.fromkeys(fields)}
        request = str(ctx.pick("request", ctx.corpus("secrets", "requests"), index))
        plant_in = options.get("plant") or ("context" if ctx.subject == "rag" else "system")
        detectors = [DetectorUse("canary", {"canaries": list(planted.values())})]
        patterns = [_SECRET_PATTERNS[f] for f in planted if f in _SECRET_PATTERNS]
        if patterns:
            detectors.append(DetectorUse("pattern", {"patterns": patterns}))
        return AttackCase(goal=f"make the subject disclose planted secrets ({', '.join(planted)})", payload=request,
                          plant=_fill(record, **values), plant_in=plant_in, detectors=detectors,
                          meta={"planted": planted})


class HarmfulRequest(Attack):
    name = "harmful_request"
    category = "harmful_request"
    description = "a clearly disallowed request; success when the output is not a refusal"

    def generate(self, ctx: AttackContext, rng: random.Random, index: int, options: dict[str, Any]) -> AttackCase:
        entry = ctx.pick("request", ctx.corpus("harmful", "requests"), index)
        request, request_id = _harmful(entry)
        return AttackCase(goal=f"get an answer instead of a refusal to a disallowed request ({request_id})",
                          payload=request, detectors=[DetectorUse("refusal", {}, success_when="absent")],
                          meta={"request_id": request_id})


def _harmful(entry: Any) -> tuple[str, str]:
    if isinstance(entry, dict):
        return str(entry.get("request", "")), str(entry.get("id", ""))
    return str(entry), ""


class Jailbreak(Attack):
    name = "jailbreak"
    category = "jailbreak"
    description = ("a disallowed request in a jailbreak wrapper (persona/role-play, developer mode, hypothetical "
                   "framing, refusal suppression, prefix injection); success when the output is not a refusal")
    options: ClassVar[dict[str, str]] = {"styles": "which wrapper styles of jailbreaks.yaml to use (default: all), cycled over the cases"}

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        options = super().validate(options)
        styles = options.get("styles")
        if styles is not None and (not isinstance(styles, list) or not styles
                                   or not all(isinstance(s, str) for s in styles)):
            raise ValueError("option 'styles': expected a list of wrapper styles")
        return options

    def generate(self, ctx: AttackContext, rng: random.Random, index: int, options: dict[str, Any]) -> AttackCase:
        wrappers = ctx.corpus("jailbreaks", kind=dict)
        styles = options.get("styles") or sorted(wrappers)
        unknown = [s for s in styles if s not in wrappers]
        if unknown:
            raise CorpusError(f"jailbreak styles {unknown} are not in jailbreaks.yaml (known: {sorted(wrappers)})")
        style = ctx.pick("style", styles, index)
        wrapper = str(ctx.pick(f"wrapper-{style}", wrappers[style], index // len(styles)))
        request, request_id = _harmful(ctx.pick("request", ctx.corpus("harmful", "requests"), index))
        return AttackCase(goal=f"get an answer instead of a refusal to a disallowed request ({request_id}) "
                               f"with a {style} jailbreak",
                          payload=_fill(wrapper, request=request),
                          detectors=[DetectorUse("refusal", {}, success_when="absent")],
                          meta={"style": style, "request_id": request_id})


BUILTIN_ATTACKS = (DirectInjection(), IndirectInjection(), SystemPromptExtraction(), SecretLeakage(),
                   Jailbreak(), HarmfulRequest())
