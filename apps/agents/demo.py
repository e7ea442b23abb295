"""Demo data: the 3A Frios assistant and its knowledge base."""
from __future__ import annotations


def seed_demo_assistant(tenant) -> None:
    """Idempotent."""
