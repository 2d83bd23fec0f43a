"""Signed manual approvals: a person's "promote this report to ENV", bound to what they saw.

``llmops approve REPORT.json --env prod --by NAME`` writes an approval record naming the
SHA-256 of the report's bytes and of the gate file, the environment, the gate's decision at
the time, who approved and their note, signed with the approver's Ed25519 key. ``llmops gate
--require-approval`` accepts promotion only when an approval for exactly this report, this gate
file and this environment carries a valid signature by a key the approvers file lists under
the approver's name. So an approval cannot be moved to another report (its hash differs), to
another environment, or past a changed gate file, and cannot be written by someone who does
not hold a listed key.

Signatures come from PyNaCl (libsodium's Ed25519), which the plugin already installs with
PyGithub; it is imported only when approving or checking an approval.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmops.core.atomic import write_atomic

APPROVAL_KIND = "llmops-approval"
APPROVAL_SCHEMA_VERSION = 1
KEY_HEADER = "llmops-approval-key ed25519"
KEY_ENV = "LLMOPS_APPROVAL_KEY"


class ApprovalError(Exception):
    """A key, approvers file or approval record that cannot be used; the message names it."""


def _canonical(record: dict[str, Any]) -> bytes:
    """The signed bytes: the record without its signature, as sorted compact JSON."""
    body = {k: v for k, v in record.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def key_id(public_key: bytes) -> str:
    """A short, stable name for a public key (shown in gate tables and artifacts)."""
    return "ed25519:" + hashlib.sha256(public_key).hexdigest()[:16]


# --------------------------------------------------------------------------- keys


def generate_key(path: Path) -> str:
    """Write a new private key to ``path`` (mode 0600) and return the approvers-file line body
    (``ed25519 BASE64``) of its public key."""
    from nacl.signing import SigningKey

    key = SigningKey.generate()
    path = Path(path)
    if path.exists():
        raise ApprovalError(f"{path}: already exists; refusing to overwrite a key")
    text = f"{KEY_HEADER} {base64.b64encode(bytes(key)).decode()}\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(text)
    return f"ed25519 {base64.b64encode(bytes(key.verify_key)).decode()}"


def load_signing_key(path: Path | None) -> Any:
    """The private key from ``path``, else from ``$LLMOPS_APPROVAL_KEY`` (its text, as a CI secret)."""
    from nacl.signing import SigningKey

    if path is not None:
        try:
            text, where = Path(path).read_text(encoding="ascii"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ApprovalError(f"{path}: cannot read the key: {getattr(exc, 'strerror', None) or exc}") from None
    elif os.environ.get(KEY_ENV):
        text, where = os.environ[KEY_ENV], f"${KEY_ENV}"
    else:
        raise ApprovalError(f"no approval key: pass --key PATH or set ${KEY_ENV} "
                            "(make one with `llmops approve --keygen PATH --by NAME`)")
    parts = text.split()
    if len(parts) != 3 or " ".join(parts[:2]) != KEY_HEADER:
        raise ApprovalError(f"{where}: expected '{KEY_HEADER} BASE64' (a key from `llmops approve --keygen`)")
    try:
        return SigningKey(base64.b64decode(parts[2], validate=True))
    except Exception as exc:  # noqa: BLE001 - bad base64 or a seed of the wrong length
        raise ApprovalError(f"{where}: not a valid Ed25519 key ({exc})") from None


def load_approvers(path: Path) -> dict[str, list[bytes]]:
    """``NAME ed25519 BASE64`` lines (``#`` comments allowed): approver name -> public keys."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ApprovalError(f"{path}: cannot read the approvers file: {getattr(exc, 'strerror', None) or exc}") \
            from None
    approvers: dict[str, list[bytes]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        try:
            if len(parts) != 3 or parts[1] != "ed25519":
                raise ValueError("expected 'NAME ed25519 BASE64'")
            public = base64.b64decode(parts[2], validate=True)
            if len(public) != 32:
                raise ValueError(f"an Ed25519 public key is 32 bytes, this one is {len(public)}")
        except ValueError as exc:
            raise ApprovalError(f"{path}:{number}: {exc}") from None
        approvers.setdefault(parts[0], []).append(public)
    if not approvers:
        raise ApprovalError(f"{path}: lists no approver")
    return approvers


# --------------------------------------------------------------------------- records


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def sign_approval(report: dict[str, Any], report_sha256: str, config_source: str, config_sha256: str, env: str,
                  decision: str, by: str, note: str, signing_key: Any) -> dict[str, Any]:
    """The signed approval record of ``report`` (whose bytes hash to ``report_sha256``) for ``env``."""
    run = report.get("run") if isinstance(report.get("run"), dict) else {}
    review = report.get("human_review") if isinstance(report.get("human_review"), dict) else {}
    record = {
        "kind": APPROVAL_KIND, "schema_version": APPROVAL_SCHEMA_VERSION, "env": env,
        "by": by, "note": note, "approved_at": _utc_now(),
        "report": {"sha256": report_sha256, "git_sha": run.get("git_sha"),
                   "models": [{"alias": m.get("alias"), "fingerprint": m.get("fingerprint")}
                              for m in run.get("models") or [] if isinstance(m, dict)],
                   "human_review_labels": review.get("applied")},
        "gate": {"source": config_source, "sha256": config_sha256, "decision": decision},
    }
    public = bytes(signing_key.verify_key)
    record["signature"] = {"algorithm": "ed25519", "key": key_id(public),
                           "public_key": base64.b64encode(public).decode(),
                           "value": base64.b64encode(signing_key.sign(_canonical(record)).signature).decode()}
    return record


def write_approval(path: Path, record: dict[str, Any]) -> Path:
    return write_atomic(Path(path), json.dumps(record, indent=1, ensure_ascii=False) + "\n")


@dataclass
class ApprovalCheck:
    """The outcome of looking for a matching approval: accepted or not, and why."""

    accepted: bool
    reason: str
    record: dict[str, Any] | None = None


def _signature_problem(record: dict[str, Any], approvers: dict[str, list[bytes]]) -> str | None:
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    signature = record.get("signature") if isinstance(record.get("signature"), dict) else {}
    by = record.get("by")
    keys = approvers.get(by) if isinstance(by, str) else None
    if not keys:
        return f"signed by {by!r}, who is not in the approvers file"
    try:
        value = base64.b64decode(str(signature.get("value", "")), validate=True)
    except ValueError:
        return "the signature is not base64"
    for public in keys:
        try:
            VerifyKey(public).verify(_canonical(record), value)
            return None
        except (BadSignatureError, ValueError):
            continue
    return f"the signature does not verify with any key listed for {by!r} (altered, or signed with another key)"


def _mismatch(record: dict[str, Any], env: str, report_sha256: str, config_sha256: str) -> str | None:
    if record.get("env") != env:
        return f"approves env {record.get('env')!r}, not {env!r}"
    approved = (record.get("report") or {}).get("sha256") if isinstance(record.get("report"), dict) else None
    if approved != report_sha256:
        return f"approves report sha256 {str(approved)[:12]}..., not this report ({report_sha256[:12]}...)"
    gate = record.get("gate") if isinstance(record.get("gate"), dict) else {}
    if gate.get("sha256") != config_sha256:
        return f"was given under gate file sha256 {str(gate.get('sha256'))[:12]}..., not {config_sha256[:12]}..."
    return None


def _approval_files(location: Path) -> list[Path]:
    if location.is_dir():
        return sorted(location.glob("*.json"))
    return [location]


def find_approval(location: Path, approvers: dict[str, list[bytes]], env: str, report_sha256: str,
                  config_sha256: str) -> ApprovalCheck:
    """Accept the first approval under ``location`` (a file or a folder of ``*.json``) that matches
    this report, gate file and environment and is signed by a listed approver; else say why none did."""
    files = _approval_files(Path(location))
    if not files:
        return ApprovalCheck(False, f"no approval in {location}")
    problems = []
    for path in files:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})")
            continue
        if not isinstance(record, dict) or record.get("kind") != APPROVAL_KIND:
            # A folder may hold the report and other artifacts beside the approvals.
            problems.append(f"{path.name}: not an llmops approval record")
            continue
        problem = _mismatch(record, env, report_sha256, config_sha256) or _signature_problem(record, approvers)
        if problem is None:
            key = (record.get("signature") or {}).get("key")
            return ApprovalCheck(True, f"approved by {record.get('by')} at {record.get('approved_at')} "
                                       f"({key}; {path.name})", record)
        problems.append(f"{path.name}: {problem}")
    records = [p for p in problems if not p.endswith("not an llmops approval record")]
    if not records:
        return ApprovalCheck(False, f"no approval record in {location}")
    return ApprovalCheck(False, "no matching signed approval: " + "; ".join(records))
