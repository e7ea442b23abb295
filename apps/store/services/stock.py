"""The stock ledger (contract; implemented by the store-core owner)."""
from __future__ import annotations

from decimal import Decimal


def stock_adjust(product, *, quantity: Decimal, kind: str = "adjustment", reason: str = "", user=None, order=None):
    """Add ``quantity`` (signed) to the product's stock under a row lock and write the ledger line;
    refuses to go below zero unless the store sells without stock."""
    raise NotImplementedError
