"""The decision log: one ``Decision`` per AI turn ("why this answer?").

A decision is created when the turn knows enough to act (its id goes into every reply's payload)
and completed when the turn ends; a turn that is skipped writes one in a single call."""
from __future__ import annotations

from decimal import Decimal

from ..models import Decision, DecisionAction

_FIELDS = {f.name for f in Decision._meta.get_fields() if getattr(f, "concrete", False)} - {"id"}
_LIMITS = {"reason": 200, "model": 120}


def _clean(fields: dict) -> dict:
    unknown = set(fields) - _FIELDS - {"conversation_id", "turn_id", "assistant_id"}
    if unknown:
        raise ValueError(f"not Decision fields: {', '.join(sorted(unknown))}")
    out = dict(fields)
    for name, limit in _LIMITS.items():
        if name in out and out[name] is not None:
            out[name] = str(out[name])[:limit]
    if "error" in out and out["error"]:
        out["error"] = str(out["error"])[:4000]
    if "cost" in out and out["cost"] is not None:
        out["cost"] = Decimal(out["cost"])
    return out


def decision_create(*, conversation, action: str, turn=None, assistant=None, **fields) -> Decision:
    if action not in DecisionAction.values:
        raise ValueError(f"unknown action {action!r}")
    return Decision.objects.create(conversation=conversation, turn=turn, assistant=assistant, action=action,
                                   **_clean(fields))


def decision_update(decision: Decision, **fields) -> Decision:
    if "action" in fields and fields["action"] not in DecisionAction.values:
        raise ValueError(f"unknown action {fields['action']!r}")
    for key, value in _clean(fields).items():
        setattr(decision, key, value)
    if decision.pk is None:
        decision.save()
    else:
        decision.save(update_fields=list(fields))
    return decision


def decision_skip(*, conversation, reason: str, turn=None, assistant=None, **fields) -> Decision:
    """A turn the assistant did not take (no assistant, not ai_active, tenant blocked, flow...)."""
    return decision_create(conversation=conversation, turn=turn, assistant=assistant,
                           action=DecisionAction.SKIPPED, reason=reason, **fields)
