"""Streaming Parquet and CSV files: a data source read block by block, never held whole in memory.

>>> model = LinearRegression().fit(ParquetSource("big.parquet", target="y"))      # doctest: +SKIP
>>> model = LogisticRegression().fit(CSVSource("folder_of_csv/", target="label"))  # doctest: +SKIP

A source names its files (a file, a folder of them, or a list), the target
column, and optionally the feature columns and a weight column.  ``fit`` takes
it in place of X (no y, no sample_weight).  Each pass over the data reads the
files in order, one block of rows at a time (Parquet: record batches of
``batch_rows`` rows; CSV: ``batch_rows`` lines), converts the feature columns
to a float64 (rows, features) array and hands it to the kernel, so memory is
bounded by the block, whatever the files' size:

* one pass over the target column finds the labels and the weights' sum, and
  one pass over all columns gives what preconditioning needs, and for the squared loss
  with at most 512 features the Gram matrix of [X, y], after which gradient
  descent runs without reading the files again (:class:`~gdlearn.data.source.GramSource`);
* full-batch solvers make one sequential pass per iteration;
* mini-batch solvers walk the blocks of ``batch_rows`` rows (Parquet: record
  batches, a row group's one after the other, row groups in a shuffled order;
  CSV: blocks of lines, found by one scan of the file's line ends, in a shuffled
  order) each epoch, seeded by ``random_state`` and the epoch, and step through
  each block's shuffled rows (:meth:`~gdlearn.data.source.BlockSource.minibatches`):
  memory holds one block, whatever the size of a row group.

Every problem is an error naming the file, the rows and the column: a missing
value, a value that is not a finite number, a column of text, a file without
the target column or with columns of other types than the first file's.

Parquet needs the ``parquet`` extra (``pip install "gdlearn[parquet]"``: pyarrow); so does CSV, whose
blocks are parsed by pyarrow.
"""

from __future__ import annotations

import copy
import io
import os

import numpy as np

from .._optional import import_optional
from .csv import select_columns
from .source import BlockSource

__all__ = ["ParquetSource", "CSVSource", "FileSource"]

#: Rows per block (a record batch): 16,384 rows of 100 float64 features are 13 MB; pyarrow needs about 8 times
#: that to decode them (BENCHMARKS.md, "Streaming a Parquet file").
BATCH_ROWS = 16_384
#: Bytes of read buffer per column of a Parquet file: memory holds a buffer per column and one record batch,
#: not a row group (without one, pyarrow reads whole column chunks).
READ_BUFFER = 1 << 18
#: The most distinct target values collected by the pass that finds a classifier's labels.
MAX_CLASSES = 10_000


def _raw(y):
    return y


def _pa():
    return import_optional("pyarrow", extra="parquet", purpose="streaming Parquet and CSV files")


def source_files(path, suffixes: tuple[str, ...]) -> list[str]:
    """The files a source reads: a file, the files of a folder with one of ``suffixes`` (sorted), or a list."""
    if isinstance(path, (list, tuple)):
        return [os.fspath(p) for p in path]
    path = os.fspath(path)
    if os.path.isdir(path):
        found = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(suffixes))
        if not found:
            raise FileNotFoundError(f"{path}: the folder holds no {' or '.join(suffixes)} files.")
        return found
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file or folder.")
    return [path]


def _is_number(dtype) -> bool:
    pa = _pa()
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype)


class FileSource(BlockSource):
    """The part common to :class:`ParquetSource` and :class:`CSVSource`: blocks, checks, targets.

    Subclasses list their files' blocks (``_plan``) and read one (``_read``) as a
    pyarrow table of the needed columns; this class converts and checks it.
    """

    sparse = False
    _suffixes: tuple[str, ...] = ()
    _row_word = "rows"
    _typed = True  # the files declare their columns' types (Parquet); CSV cells are parsed as numbers when read
    _first_line = 0  # rows are counted from 0 in a span (CSV: lines, after the header line)

    def __init__(
        self,
        path,
        target: str,
        *,
        features: list[str] | None = None,
        drop: list[str] | None = None,
        weight: str | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        _pa()
        if not isinstance(target, str):
            raise TypeError(f"target must be the name of the target column, got {target!r}.")
        if int(batch_rows) < 1:
            raise ValueError(f"batch_rows must be a positive number of rows, got {batch_rows!r}.")
        self.files = source_files(path, self._suffixes)
        self.target, self.weight, self.batch_rows = target, weight, int(batch_rows)
        schema = self._schema(self.files[0])
        names = list(schema.names)
        for name, what in ((target, "target"), (weight, "weight")):
            if name is not None and name not in names:
                raise ValueError(f"{self.files[0]}: no {what} column {name!r}; the columns are: {', '.join(names)}.")
        candidates = [c for c in names if c not in (target, weight)]
        features, drop = ([p] if isinstance(p, str) else p for p in (features, drop))
        kept = select_columns(candidates, list(range(len(candidates))), features, drop, self.files[0])
        candidates = [candidates[j] for j in kept]
        if not candidates:
            raise ValueError(f"{self.files[0]}: there are no feature columns besides the target {target!r}.")
        self.feature_names = candidates
        self.n_features = len(candidates)
        self._types = {c: schema.field(c).type for c in names}
        for c in candidates + ([weight] if weight else []) if self._typed else ():
            if not _is_number(self._types[c]):
                raise ValueError(
                    f"{self.files[0]}: column {c!r} holds {self._types[c]}, not numbers; feature and weight columns "
                    "must be numeric. Encode it as numbers (e.g. one 0/1 column per category) or drop it "
                    "(drop=[...])."
                )
        for f in self.files[1:]:
            self._check_schema(f)
        self._plan()
        self._raw_rows = list(self._block_rows)  # rows of each block in the file (a held-out part keeps fewer)
        self._file_index = {f: k for k, f in enumerate(self.files)}
        self.n_blocks = len(self._blocks)
        self.n_samples = int(sum(self._block_rows))
        if self.n_samples < 2:
            raise ValueError(f"{self.files[0]}: {self.n_samples} data rows; at least 2 are needed to learn from.")
        self.n_outputs = 1
        self._encode = None
        self._scanned = None
        self._holdout = None
        self._passes = [0]  # shared by the copies (train, test, encoded): the passes over the files

    # ------------------------------------------------------------ to define
    def _schema(self, file):
        raise NotImplementedError

    def _plan(self) -> None:
        """Set ``_blocks`` (what :meth:`_read` takes) and ``_block_rows`` (rows of each), and ``_first_row``."""
        raise NotImplementedError

    def _read(self, i: int, columns: list[str]):
        """Block ``i`` as a pyarrow table of ``columns``."""
        raise NotImplementedError

    # ---------------------------------------------------------------- checks
    def _check_schema(self, file) -> None:
        schema = self._schema(file)
        names = list(schema.names)
        for c in [self.target] + ([self.weight] if self.weight else []) + self.feature_names:
            if c not in names:
                what = "target" if c == self.target else "weight" if c == self.weight else "feature"
                raise ValueError(
                    f"{file}: no {what} column {c!r} (the first file, {self.files[0]}, has it); "
                    f"this file's columns are: {', '.join(names)}."
                )
            t = schema.field(c).type
            if c != self.target and self._typed and not _is_number(t):
                raise ValueError(
                    f"{file}: column {c!r} holds {t}, not numbers (in {self.files[0]} it holds {self._types[c]}); "
                    "the files of one source must have the same columns and types."
                )

    def _span(self, i: int) -> tuple:
        """(file, first row in the file (from 0), rows) of block ``i``."""
        return self._blocks[i][0], self._first_row[i], self._raw_rows[i]

    # -------------------------------------------------------------- hold-out
    def split(self, test_size: float, seed: int) -> tuple[FileSource, FileSource]:
        """(train, test): the rows split at random, without reading the files.

        Row r of file f is a test row when u(seed, f, r) < ``test_size``, u a
        hash of the three numbers into [0, 1) (splitmix64): the same rows
        whatever the block sizes, reproducible from ``seed``, about
        ``test_size`` of every block.
        """
        if not 0 < test_size < 1:
            raise ValueError(f"test_size must be in (0, 1), got {test_size!r}.")
        parts = []
        for test in (False, True):
            part = copy.copy(self)
            part._holdout = (int(seed), float(test_size), test)
            part._scanned, part._last_block = None, None
            part._block_rows = [int(part._keep(part._span(i)).sum()) for i in range(self.n_blocks)]
            part.n_samples = int(sum(part._block_rows))
            parts.append(part)
        return parts[0], parts[1]

    def _keep(self, span: tuple) -> np.ndarray | slice:
        """The rows of a span that belong to this part (all of them without a hold-out)."""
        if self._holdout is None:
            return slice(None)
        seed, fraction, test = self._holdout
        file, first, rows = span
        first -= self._first_line  # the position among the file's data rows, as in a Parquet file
        z = np.arange(first, first + rows, dtype=np.uint64)
        with np.errstate(over="ignore"):
            z += np.uint64(self._file_index[file]) * np.uint64(0x9E3779B97F4A7C15)
            z += np.uint64(seed % 2**63) * np.uint64(0xD1B54A32D192ED03)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z ^= z >> np.uint64(31)
        u = (z >> np.uint64(11)).astype(np.float64) / 2.0**53
        return (u < fraction) if test else (u >= fraction)

    def _where(self, span: tuple, offset: int | None = None) -> str:
        """'file, rows a–b' of a span (or 'file, row r' for row ``offset`` of it), counted from 1 in the file."""
        file, first, rows = span
        block = f"{self._row_word} {first + 1:,}–{first + rows:,}"
        if offset is not None:
            return f"{file}, {self._row_word[:-1]} {first + offset + 1:,} (block of {block})"
        return f"{file}, {block}"

    def _numbers(self, span: tuple, table, column: str) -> np.ndarray:
        """A column as finite float64 numbers, or a ValueError naming the file, the rows and the column."""
        pa = _pa()
        import pyarrow.compute as pc

        col = table.column(column)
        if not _is_number(col.type):
            raise ValueError(f"{self._where(span)}: column {column!r} holds {col.type}, not numbers.")
        if col.null_count:
            at = pc.index(pc.is_null(col), True).as_py()
            raise ValueError(
                f"{self._where(span, at)}: missing value in column {column!r}. Fill or drop missing values first."
            )
        values = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        if pa.types.is_floating(col.type):
            bad = ~np.isfinite(values)
            if bad.any():
                at = int(np.argmax(bad))
                raise ValueError(
                    f"{self._where(span, at)}: column {column!r} holds {values[at]}; values must be finite numbers."
                )
        return values

    def _labels(self, span: tuple, table) -> np.ndarray:
        """The target column as a NumPy array (numbers, or labels as objects)."""
        col = table.column(self.target)
        if col.null_count:
            import pyarrow.compute as pc

            at = pc.index(pc.is_null(col), True).as_py()
            raise ValueError(f"{self._where(span, at)}: missing target value in column {self.target!r}.")
        if _pa().types.is_integer(col.type):  # whole-number labels stay integers
            return col.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        if _is_number(col.type):
            return self._numbers(span, table, self.target)
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)

    def _weights(self, span: tuple, table) -> np.ndarray:
        sw = self._numbers(span, table, self.weight)
        if np.any(sw < 0):
            raise ValueError(f"{self._where(span, int(np.argmax(sw < 0)))}: negative weight in column {self.weight!r}.")
        return sw

    @property
    def _columns(self) -> list[str]:
        return self.feature_names + [self.target] + ([self.weight] if self.weight else [])

    def _convert(self, span: tuple, table):
        """(X of shape (rows, n_features), Y (encoded targets), weights or None) of a table of rows, checked."""
        if table.num_rows != span[2]:
            raise ValueError(
                f"{self._where(span)}: read {table.num_rows} rows, expected {span[2]}; the file changed "
                "while training. Keep the files unchanged during a fit."
            )
        X = np.empty((self.n_features, table.num_rows))  # filled by rows of Xᵀ (contiguous writes: 2× faster)
        for j, c in enumerate(self.feature_names):
            X[j] = self._numbers(span, table, c)
        X = X.T  # (rows, features), F-ordered: the kernel's BLAS path reads it in place
        y = self._labels(span, table)
        sw = None if self.weight is None else self._weights(span, table)
        if self._holdout is not None:  # every row is checked; this part's rows are kept
            keep = self._keep(span)
            X, y, sw = X[keep], y[keep], None if sw is None else sw[keep]
        Y = y.reshape(-1, 1).astype(np.float64) if self._encode is None else self._encode(y)
        return X, Y, sw

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(X, y, sample weights or None) of all this source's rows in memory: for data that fits."""
        raw = copy.copy(self)
        raw._encode = _raw
        parts = list(raw.blocks())
        X = np.vstack([X for X, _, _ in parts]) if parts else np.empty((0, self.n_features))
        y = np.concatenate([y for _, y, _ in parts])
        sw = None if self.weight is None else np.concatenate([sw for _, _, sw in parts])
        return X, y, sw

    # ---------------------------------------------------------------- blocks
    @property
    def passes(self) -> int:
        """How many times the files have been read through (by this source and its copies: train, test, encoded)."""
        return self._passes[0]

    @property
    def block_rows(self) -> list:
        return list(self._block_rows)

    def blocks(self):
        """A full pass over the blocks, in order."""
        self._passes[0] += 1
        return super().blocks()

    def block(self, i: int):
        """Block ``i`` as (X of shape (rows, n_features), Y (encoded targets), sample weights or None)."""
        return self._convert(self._span(i), self._read(i, self._columns))

    # --------------------------------------------------------------- targets
    def _scan(self) -> dict:
        """One pass over the target (and weight) columns: the labels and their weights, the weights' sum and
        largest value, the targets' range and weighted sum."""
        if self._scanned is None:
            labels, w_sum, w_max, y_big, y_sum, numeric = {}, 0.0, 0.0, 0.0, 0.0, True
            cols = [self.target] + ([self.weight] if self.weight else [])
            self._passes[0] += 1
            for i in range(self.n_blocks):
                table, span = self._read(i, cols), self._span(i)
                keep = self._keep(span)
                y = self._labels(span, table)[keep]
                sw = None if self.weight is None else self._weights(span, table)[keep]
                numeric = numeric and y.dtype != object
                if labels is not None:  # the labels' weights, until there are too many to be labels
                    u, where = np.unique(y, return_inverse=True)
                    for label, w in zip(u.tolist(), np.bincount(where, weights=sw, minlength=len(u)).tolist()):
                        labels[label] = labels.get(label, 0.0) + w
                    labels = labels if len(labels) <= MAX_CLASSES else None
                if numeric:
                    y_big = max(y_big, float(np.max(np.abs(y), initial=0.0)))
                    y_sum += float(y.sum() if sw is None else sw @ y)
                if sw is not None:
                    w_sum += float(sw.sum())
                    w_max = max(w_max, float(sw.max(initial=0.0)))
            if self.weight is not None and not w_sum > 0:
                raise ValueError(f"{self.files[0]}: the weights in column {self.weight!r} are all zero.")
            classes = None
            if labels is not None:
                classes = np.array(sorted(labels), dtype=object if not numeric else None)
            self._scanned = dict(
                classes=classes,
                label_weights=labels,
                weight_sum=w_sum if self.weight else float(self.n_samples),
                max_weight=w_max if self.weight else 1.0,
                y_big=y_big,
                y_sum=y_sum,
                numeric=numeric,
            )
        return self._scanned

    def target_mean(self) -> np.ndarray:
        """Σ sᵢyᵢ / m of the encoded targets, from the scan of the target column (no pass over X)."""
        scan = self._scan()
        if scan["label_weights"] is None:  # a measurement with many values: the encoding is the identity
            return np.array([scan["y_sum"] / scan["weight_sum"]])
        classes = scan["classes"]
        weights = np.array([scan["label_weights"][c] for c in classes.tolist()])
        encoded = self._encode(classes) if self._encode is not None else classes.reshape(-1, 1).astype(float)
        return weights @ encoded / scan["weight_sum"]

    @property
    def weight_sum(self) -> float:
        return self._scan()["weight_sum"]

    @property
    def max_weight(self) -> float:
        return self._scan()["max_weight"]

    target_ndim = 1
    target_width = 1

    def target_classes(self) -> np.ndarray:
        """The distinct values of the target column (one pass over it); a ValueError beyond :data:`MAX_CLASSES`."""
        classes = self._scan()["classes"]
        if classes is None:
            raise ValueError(
                f"{self.files[0]}: the target {self.target!r} has more than {MAX_CLASSES:,} distinct values: "
                "measurements, not class labels. Fit them with LinearRegression."
            )
        return classes

    @property
    def target_is_numeric(self) -> bool:
        """Whether the target column holds numbers (after one pass over it)."""
        return self._scan()["numeric"]

    def with_targets(self, encode, n_outputs: int) -> FileSource:
        """This source with its target column encoded by ``encode`` (block by block) into ``n_outputs`` columns."""
        scanned = self._scan()
        if scanned["numeric"] and scanned["y_big"] > 1e150:
            raise ValueError(
                f"{self.files[0]}: the target {self.target!r} reaches {scanned['y_big']:.3g}; squared errors beyond "
                "1e150 overflow double precision. Rescale it."
            )
        bound = copy.copy(self)
        bound._encode, bound.n_outputs = encode, n_outputs
        bound._last_block = None
        return bound

    def __repr__(self) -> str:
        what = self.files[0] if len(self.files) == 1 else f"{len(self.files)} files"
        return f"{type(self).__name__}({what!r}, target={self.target!r})"


class ParquetSource(FileSource):
    """Parquet files read in record batches with pyarrow.

    Parameters
    ----------
    path : str, path-like, or list of them
        A Parquet file, a folder of ``.parquet``/``.pq`` files (read in sorted
        order; they must share the columns and types), or a list of files.
    target : str
        The target column (numbers for regression, labels for classification).
    features : list of str, optional
        Feature columns, names or shell patterns (``x_*``); default: all
        columns but the target and the weight.
    drop : list of str, optional
        Columns to leave out (names or patterns).
    weight : str, optional
        A column of sample weights (≥ 0).
    batch_rows : int, default=16384
        Rows per record batch, for full passes and mini-batch epochs alike: the
        memory a pass needs is about ``batch_rows × n_features × 16`` bytes,
        plus a read buffer of 256 KiB per column (:data:`READ_BUFFER`),
        whatever the size of the row groups.  Files of float columns are best
        written without dictionary encoding, which random floats do not
        compress and which doubles pyarrow's decoding memory
        (``pyarrow.parquet.write_table(..., row_group_size=16384, use_dictionary=False)``).

    Attributes
    ----------
    n_samples, n_features : int
        From the files' metadata (no pass).
    feature_names : list of str
    files : list of str
    """

    _suffixes = (".parquet", ".pq")

    def _schema(self, file):
        import pyarrow.parquet as pq

        try:
            return pq.read_schema(file)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{file}: not a readable Parquet file ({exc}).") from None

    def _plan(self) -> None:
        import pyarrow.parquet as pq

        self._blocks, self._block_rows, self._first_row, self._groups = [], [], [], []
        for f in self.files:
            meta = pq.ParquetFile(f).metadata
            first = 0
            for g in range(meta.num_row_groups):
                rows, group_start = meta.row_group(g).num_rows, len(self._blocks)
                for k, start in enumerate(range(0, rows, self.batch_rows)):  # the record batches of the group
                    self._blocks.append((f, g, k))
                    self._block_rows.append(min(self.batch_rows, rows - start))
                    self._first_row.append(first + start)
                if rows:
                    self._groups.append(list(range(group_start, len(self._blocks))))
                first += rows
        self._stream = self._reader = None

    @property
    def block_groups(self) -> list:
        """The record batches of each row group: read in order, a group's batches one after the other."""
        return self._groups

    def _open(self, file, columns, **where):
        """Record batches of ``file`` (its row groups ``where``), from the file's one open reader."""
        import pyarrow.parquet as pq

        if self._reader is None or self._reader[0] != file:  # the footer is parsed once per file, not per group
            # pre-buffering, or no read buffer, holds whole row groups in memory; a read buffer holds a page or so
            self._reader = (file, pq.ParquetFile(file, pre_buffer=False, buffer_size=READ_BUFFER))
        return self._reader[1].iter_batches(batch_size=self.batch_rows, columns=columns, **where)

    def _read(self, i: int, columns: list[str]):
        """Record batch ``i``: the next batch of its row group's open reader, or a new reader (then skipping)."""
        import pyarrow as pa

        file, group, k = self._blocks[i]
        key = (file, group, tuple(columns))
        try:
            if self._stream is None or self._stream[:2] != [key, k]:
                self._stream = [key, 0, self._open(file, columns, row_groups=[group])]
                for _ in range(k):  # only for a batch read out of order
                    next(self._stream[2])
            self._stream[1] = k + 1
            return pa.Table.from_batches([next(self._stream[2])])
        except (OSError, ValueError, StopIteration) as exc:
            self._stream = None
            raise ValueError(f"{self._where(self._span(i))}: cannot read the file ({exc}).") from None

    def blocks(self):
        """A full pass: each file's record batches of ``batch_rows`` rows, in order (memory: one batch)."""
        import pyarrow as pa

        self._passes[0] += 1
        self._stream = self._last_block = None  # a mini-batch epoch's block and reader are not needed meanwhile
        for f in self.files:
            start = 0
            try:
                for batch in self._open(f, self._columns):
                    yield self._convert((f, start, batch.num_rows), pa.Table.from_batches([batch]))
                    start += batch.num_rows
            except (OSError, pa.ArrowInvalid) as exc:
                raise ValueError(f"{f}, after row {start:,}: cannot read the file ({exc}).") from None


class CSVSource(FileSource):
    """CSV files with a header row, parsed by pyarrow in blocks of ``batch_rows`` lines.

    One scan of each file's bytes finds the line ends, so that every block can
    be read on its own (full passes in order, mini-batch epochs in a shuffled
    order).  As pyarrow's reader by default, values must not contain line
    breaks.  Feature and weight columns are parsed as float64: a cell of text
    is an error naming the file, the lines and the column; empty cells,
    ``NA``, ``null`` and the like are missing values.

    Parameters
    ----------
    path, target, features, drop, weight, batch_rows
        As :class:`ParquetSource` (a folder is read for its ``.csv`` files).
    """

    _suffixes = (".csv",)
    _row_word = "lines"
    _typed = False
    _first_line = 1

    def _schema(self, file):
        import pyarrow.csv as pcsv

        try:
            with pcsv.open_csv(file, read_options=pcsv.ReadOptions(block_size=1 << 20)) as reader:
                return reader.schema
        except (OSError, ValueError) as exc:
            raise ValueError(f"{file}: not a readable CSV file ({exc}).") from None

    def _plan(self) -> None:
        self._blocks, self._block_rows, self._first_row = [], [], []
        for f in self.files:
            with open(f, "rb") as fh:
                header = fh.readline()
                starts, lines, pos = [], 0, len(header)
                block_start, in_block = pos, 0
                while chunk := fh.read(1 << 24):
                    ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
                    for e in ends:
                        in_block += 1
                        if in_block == self.batch_rows:
                            starts.append((block_start, pos + int(e) + 1, in_block))
                            block_start, in_block = pos + int(e) + 1, 0
                    pos += len(chunk)
                    lines += len(ends)
                if pos > block_start:  # the last block (maybe without a final line end)
                    fh.seek(block_start)
                    tail = fh.read(pos - block_start)
                    n = tail.count(b"\n") + (0 if tail.endswith(b"\n") else 1)
                    if tail.strip():
                        starts.append((block_start, pos, n))
            first = 1  # the header is line 1
            for a, b, n in starts:
                self._blocks.append((f, (header, a, b)))
                self._block_rows.append(n)
                self._first_row.append(first)
                first += n

    def _read(self, i: int, columns: list[str]):
        import pyarrow as pa
        import pyarrow.csv as pcsv

        file, (header, a, b) = self._blocks[i]
        with open(file, "rb") as fh:
            fh.seek(a)
            body = fh.read(b - a)
        types = {c: pa.float64() for c in columns if c != self.target}
        try:
            return pcsv.read_csv(
                io.BytesIO(header + body),
                convert_options=pcsv.ConvertOptions(column_types=types, include_columns=columns),
            )
        except pa.ArrowInvalid as exc:
            text = str(exc)
            column = next((c for c in columns if f"'{c}'" in text), None)
            if "column #" in text:
                number = int(text.split("column #")[1].split(":")[0])
                column = column or (list(pcsv.open_csv(io.BytesIO(header)).schema.names)[number])
            raise ValueError(
                f"{self._where(self._span(i))}: column {column!r} holds a value that is not a number ({text}). "
                "Feature and weight columns must be numeric."
            ) from None
