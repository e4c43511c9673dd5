"""Data sources: reading user files (CSV) into arrays."""

from .csv import Table, read_csv

__all__ = ["Table", "read_csv"]
