"""Data sources: reading user files (CSV) into arrays, mini-batch orders, and streaming sources.

:class:`ParquetSource` and :class:`CSVSource` (:mod:`gdlearn.data.files`) stream files larger than memory into
``fit``; :mod:`gdlearn.data.dask` makes Dask arrays and data frames a source whose sums run on the cluster.
"""

from .batches import batch_indices
from .csv import Table, read_csv
from .files import CSVSource, ParquetSource

__all__ = ["Table", "read_csv", "batch_indices", "ParquetSource", "CSVSource"]
