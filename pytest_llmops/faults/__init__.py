"""Planted faults: a real model's answers corrupted at a chosen rate (``fault:`` model specs)."""
