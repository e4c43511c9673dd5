"""Data sources: reading user files (CSV) into arrays, and mini-batch orders."""

from .batches import batch_indices
from .csv import Table, read_csv

__all__ = ["Table", "read_csv", "batch_indices"]
