"""Named data sets, user data and data files, validated.

- ``"seed"``: x = (−1/2, −1/6, 1/6, 1/2), y = (1/4, 1/30, 1/30, 1/4) (the seed notebook; the points
  lie on the V shape y = (13/20)|x| − 3/40).
- ``"luo2021"``: the same x with y = x² (Luo et al. 2021, Figs. 2–4).
- ``"custom"``: arrays given by the user: x as n numbers (d = 1) or n rows of d numbers.
- a path ending in ``.csv`` or ``.npz``: a data file (``read_file``).

Inputs come back as a float64 array of shape (n,) when d = 1 (also when given as n rows of one number)
and (n, d) when d > 1; targets as shape (n,).
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import numpy as np

from relunet_support.errors import ConfigError, invalid

_SEED_X = (-1 / 2, -1 / 6, 1 / 6, 1 / 2)

DATASETS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "seed": (_SEED_X, (1 / 4, 1 / 30, 1 / 30, 1 / 4)),
    "luo2021": (_SEED_X, tuple(x * x for x in _SEED_X)),
}
CUSTOM = "custom"
FILE_SUFFIXES = (".csv", ".npz")
# a number as a .csv file, a study file or the command line writes it: ASCII digits, an optional sign, point and
# exponent, or inf, nan (refused by name where a finite number is needed). Python's float() and int() also read
# '1_0' as 10 and '١' (Arabic-Indic one) as 1, which no one means.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.IGNORECASE | re.ASCII)
READ_FILE = "file:"  # dataset 'file:NAME': the numbers of data file NAME, read before and given as x and y
_NAMED = ", ".join(repr(name) for name in [*DATASETS, CUSTOM])


class _Shown:
    """A value as an error message shows it: an array by its shape and dtype, anything else by a repr cut at
    80 characters."""

    def __init__(self, value):
        self.value = value

    def __repr__(self) -> str:
        if isinstance(self.value, np.ndarray):
            return f"<array of shape {self.value.shape}, dtype {self.value.dtype}>"
        text = repr(self.value)
        return text if len(text) <= 80 else text[:77] + "..."


def _as_array(name: str, values, allowed: str) -> np.ndarray:
    """``values`` as a float64 array of real numbers, or ConfigError (ragged rows, text, complex, …) naming
    ``name``."""
    if isinstance(values, np.ndarray) and values.dtype.kind not in "fiu":
        raise invalid(name, _Shown(values), f"{allowed} (real numbers: not {values.dtype.name})")
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise invalid(name, _Shown(values), allowed) from None


def validate_arrays(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Return (x, y) as finite float64 arrays — x of shape (n,) (d = 1) or (n, d), y of shape (n,) — with
    n ≥ 1 points, or raise ConfigError."""
    x_allowed = "a non-empty sequence of numbers, or of rows of d ≥ 1 numbers each (all rows the same length)"
    x_arr = _as_array("x", x, x_allowed)
    y_arr = _as_array("y", y, "a non-empty 1-D sequence of numbers")
    if x_arr.ndim == 2 and x_arr.shape[1] == 1:
        x_arr = x_arr[:, 0]
    if x_arr.ndim not in (1, 2) or x_arr.size == 0:
        raise invalid("x", _Shown(x), x_allowed)
    if y_arr.ndim != 1 or y_arr.size == 0:
        raise invalid("y", _Shown(y), "a non-empty 1-D sequence of numbers")
    if x_arr.shape[0] != y_arr.size:
        raise invalid("y", _Shown(y), f"of the same length as x ({x_arr.shape[0]} points), not {y_arr.size}")
    for name, values, given in (("x", x_arr, x), ("y", y_arr, y)):
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            raise invalid(
                name,
                _Shown(given),
                f"finite numbers (entry {tuple(int(i) for i in bad[0])} is {values[tuple(bad[0])]})",
            )
    return x_arr, y_arr


def is_number_text(text: str) -> bool:
    """Whether ``text`` (spaces around it aside) is a number written in ASCII: '-2.5e3', '.5', 'inf' — not '1_0',
    '١' or '0x1'."""
    return bool(_NUMBER.fullmatch(text.strip()))


def is_file_name(dataset) -> bool:
    """Whether ``dataset`` names a data file to read (ends in .csv or .npz) rather than a named data set."""
    return isinstance(dataset, str) and dataset.lower().endswith(FILE_SUFFIXES) and not dataset.startswith(READ_FILE)


def read_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) from a data file, validated as by ``validate_arrays``:

    - ``.npz``: arrays ``x`` (shape (n,) or (n, d)) and ``y`` (shape (n,)); read without pickles;
    - ``.csv``: a header row naming the columns, one of them ``y`` (the targets); every other column is
      an input coordinate, in the order of the header; then one row of numbers per data point.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise invalid("dataset", name, "a .csv or .npz file that exists (or one of " + _NAMED + ")")
    if path.suffix.lower() == ".npz":
        if not zipfile.is_zipfile(path):
            raise invalid(
                "dataset", name, "an .npz file (a zip archive of arrays, as numpy.savez writes): this is no zip"
            )
        try:
            with np.load(path, allow_pickle=False) as archive:
                files = archive.files
                if "x" not in files or "y" not in files:
                    raise invalid("dataset", name, f"an .npz file holding arrays 'x' and 'y' (it holds {files})")
                x, y = archive["x"], archive["y"]
        except ConfigError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise invalid("dataset", name, f"a readable .npz file of numeric arrays x and y ({error})") from None
        try:
            return validate_arrays(x, y)
        except ConfigError as error:
            raise invalid("dataset", name, f"an .npz file of valid data: {error}") from None
    try:
        return _read_csv(path)
    except UnicodeDecodeError as error:
        raise invalid("dataset", name, f"a UTF-8 text .csv file ({error.reason} at byte {error.start})") from None


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The .csv layout of ``read_file``; errors name the file, the line and the column."""
    name = str(path)
    with path.open(newline="", encoding="utf-8-sig") as file:  # a byte-order mark (Excel's "CSV UTF-8") is dropped
        rows = [row for row in csv.reader(file) if any(cell.strip() for cell in row)]
    if not rows:
        raise invalid("dataset", name, "a .csv file with a header row and one row per data point (it is empty)")
    header = [cell.strip() for cell in rows[0]]
    if header.count("y") > 1:
        raise invalid("dataset", name, f"a .csv file with one 'y' column (its header names {header.count('y')})")
    if "y" not in header or len(header) < 2:
        raise invalid(
            "dataset",
            name,
            f"a .csv file whose header names a 'y' column and at least one input column (header: {header})",
        )
    values = np.empty((len(rows) - 1, len(header)))
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise invalid(
                "dataset",
                name,
                f"a .csv file whose rows all have {len(header)} cells like its header (line {line} has {len(row)})",
            )
        for column, cell in enumerate(row):
            try:
                if not is_number_text(cell):
                    raise ValueError(cell)
                values[line - 2, column] = float(cell)
            except ValueError:
                raise invalid(
                    "dataset", name, f"a .csv file of numbers (line {line}, column {header[column]!r}: {cell!r})"
                ) from None
    if values.shape[0] == 0:
        raise invalid("dataset", name, "a .csv file with at least one data row below its header")
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        line, column = bad[0]
        raise invalid(
            "dataset",
            name,
            f"a .csv file of finite numbers (line {line + 2}, column {header[column]!r}: {values[line, column]})",
        )
    target = header.index("y")
    return validate_arrays(np.delete(values, target, axis=1), values[:, target])


def load(dataset: str = "seed", x=None, y=None) -> tuple[np.ndarray, np.ndarray]:
    """Return the (x, y) arrays of a named data set, of user arrays when dataset is "custom" or "file:NAME"
    (a data file's numbers, read before), or of the data file ``dataset`` names (``read_file``)."""
    allowed = _NAMED + ", or a path ending in .csv or .npz"
    if isinstance(dataset, str) and dataset.startswith(READ_FILE):  # a file read before: its numbers
        if x is None or y is None:
            raise invalid("dataset", dataset, f"given with x and y ({READ_FILE}NAME: the numbers read from NAME)")
        return validate_arrays(x, y)
    if is_file_name(dataset):
        if x is not None or y is not None:
            raise invalid("dataset", dataset, "'custom' when x and y are given")
        return read_file(dataset)
    if dataset == CUSTOM:
        if x is None or y is None:
            raise invalid("x", x, "given together with y when dataset='custom'")
        return validate_arrays(x, y)
    if dataset not in DATASETS:
        raise invalid("dataset", dataset, f"one of {allowed}")
    if x is not None or y is not None:
        raise invalid("dataset", dataset, "'custom' when x and y are given")
    return validate_arrays(*DATASETS[dataset])
