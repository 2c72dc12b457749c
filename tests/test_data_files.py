"""Data of any input dimension: user arrays, .csv and .npz files, and the errors that name what is wrong."""

import numpy as np
import pytest

from relunet_support.errors import ConfigError
from relunet_support.network import data


def test_rows_of_d_numbers_give_an_n_by_d_array_and_rows_of_one_number_a_vector():
    x, y = data.load("custom", [[1, 2], [3, 4], [5, 6]], [0.1, 0.2, 0.3])
    assert x.shape == (3, 2) and y.shape == (3,)
    x, _ = data.load("custom", [[1], [2]], [0, 1])
    assert x.shape == (2,) and np.array_equal(x, [1.0, 2.0])


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([[1, 2], [3]], [0, 1], "x=.* rows of d ≥ 1 numbers each"),
        ([[1, 2], [3, 4]], [0, 1, 2], r"y=.* of the same length as x \(2 points\), not 3"),
        ([[1, np.nan], [3, 4]], [0, 1], "x=.* finite numbers"),
        ([["a", "b"]], [0], "x=.*sequence of numbers"),
        ([[[1]], [[2]]], [0, 1], "x=.*rows of d ≥ 1 numbers"),
    ],
)
def test_bad_user_arrays_are_named(x, y, message):
    with pytest.raises(ConfigError, match=message):
        data.load("custom", x, y)


def test_a_csv_file_takes_every_column_but_y_as_an_input(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x1,y,x2\n1,10,2\n3,30,4\n\n5,50,6\n")
    x, y = data.load(str(path))
    np.testing.assert_array_equal(x, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(y, [10, 30, 50])
    one = tmp_path / "one.csv"
    one.write_text("y,x\n0.5,-1\n0.25,1\n")
    x, y = data.load(str(one))
    assert x.shape == (2,) and list(x) == [-1.0, 1.0] and list(y) == [0.5, 0.25]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x1,x2,y\n1,2,3\n4,5\n", r"rows all have 3 cells like its header \(line 3 has 2\)"),
        ("a,b\n1,2\n", r"header names a 'y' column .*\['a', 'b'\]"),
        ("x,y\n1,nan\n", r"finite numbers \(line 2, column 'y': nan\)"),
        ("x,y\n1,abc\n", r"of numbers \(line 2, column 'y': 'abc'\)"),
        ("x,y\n", "at least one data row"),
        ("", "it is empty"),
        ("x1,y,y\n1,2,3\n", r"one 'y' column \(its header names 2\)"),
    ],
)
def test_bad_csv_files_are_named_with_line_and_column(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"dataset='{path}' is not allowed: .*{message}"):
        data.load(str(path))


def test_npz_files_are_read_without_pickles(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, x=np.arange(6.0).reshape(3, 2), y=np.ones(3))
    x, y = data.load(str(good))
    assert x.shape == (3, 2) and y.shape == (3,)
    missing = tmp_path / "missing_y.npz"
    np.savez(missing, x=np.ones(3))
    with pytest.raises(ConfigError, match=r"holding arrays 'x' and 'y' \(it holds \['x'\]\)"):
        data.load(str(missing))
    objects = tmp_path / "objects.npz"
    np.savez(objects, x=np.array([{}], dtype=object), y=np.zeros(1))
    with pytest.raises(ConfigError, match="Object arrays cannot be loaded when allow_pickle=False"):
        data.load(str(objects))
    not_zip = tmp_path / "text.npz"
    not_zip.write_text("not an archive")
    with pytest.raises(ConfigError, match="this is no zip"):
        data.load(str(not_zip))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ConfigError, match=f"dataset='{truncated}' is not allowed"):
        data.load(str(truncated))
    for name, arrays, message in (
        (
            "nan.npz",
            {"x": np.array([[1.0, np.nan], [2, 3]]), "y": np.ones(2)},
            r"finite numbers \(entry \(0, 1\) is nan\)",
        ),
        ("complex.npz", {"x": np.ones(3) + 1j, "y": np.ones(3)}, "real numbers: not complex128"),
        ("text.npz", {"x": np.array(["0.5", "1"]), "y": np.ones(2)}, "real numbers: not str"),
    ):
        path = tmp_path / name
        np.savez(path, **arrays)
        with pytest.raises(ConfigError, match=f"dataset='{path}' is not allowed: .*{message}"):
            data.load(str(path))


def test_a_file_that_is_not_there_and_arrays_beside_a_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="a .csv or .npz file that exists"):
        data.load(str(tmp_path / "absent.csv"))
    path = tmp_path / "points.csv"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(ConfigError, match="'custom' when x and y are given"):
        data.load(str(path), [1.0], [2.0])


def test_a_byte_order_mark_is_dropped_and_other_encodings_are_named(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfy,x1\n1,2\n3,4\n")
    x, y = data.load(str(path))
    assert list(y) == [1.0, 3.0] and list(x) == [2.0, 4.0]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"x\xe9,y\n1,2\n")
    with pytest.raises(ConfigError, match="a UTF-8 text .csv file"):
        data.load(str(latin))
