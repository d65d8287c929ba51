"""mlmkit.datasets: names, dtypes, shapes, known values, the shipped files, errors."""
from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from mlmkit import datasets
from mlmkit.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["alcohol", "imm10", "imm23", "rats", "sleepstudy"]
STR = "str" if int(pd.__version__.split(".")[0]) >= 3 else "object"   # pandas 3's string dtype

# md5 of the canonical files, as recorded in data/PROVENANCE.md (imm23: computed on import)
MD5 = {
    "rats": "bf5e9798c4a47a9eebae715184aa0d0e",
    "alcohol": "ef160b8fd8408e6b67148e0f93536827",
    "sleepstudy": "cc43bfe8a570a3178e0cc2c9abce5b73",
    "imm10": "412df8d8508ed57ffc9435208e397969",
    "imm23": "31a11e060aab36d7134bf9d41673ce69",
}

DTYPES = {
    "rats": {"batch": STR, "m": "int64", "n": "int64"},
    "alcohol": {"country": STR, "year": "int64", "alcohol": "float64"},
    "sleepstudy": {"Reaction": "float64", "Days": "int64", "Subject": STR},
    "imm10": {"schid": STR, "stuid": "int64", "ses": "float64", "math": "int64", "homework": "int64",
              "schnum": STR},
    "imm23": {"schid": STR, "stuid": "int64", "ses": "float64", "math": "int64", "meanses": "float64"},
}

SHAPES = {"rats": (71, 3), "alcohol": (411, 3), "sleepstudy": (180, 3), "imm10": (260, 19),
          "imm23": (519, 18)}

GROUPS = {"rats": ("batch", 71), "alcohol": ("country", 189), "sleepstudy": ("Subject", 18),
          "imm10": ("schid", 10), "imm23": ("schid", 23)}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def packaged(name: str) -> bytes:
    return (resources.files("mlmkit") / "data" / name).read_bytes()


def test_available():
    assert datasets.available() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_shape(name):
    assert datasets.load(name).shape == SHAPES[name]


@pytest.mark.parametrize("name", NAMES)
def test_dtypes(name):
    got = datasets.load(name).dtypes.astype(str).to_dict()
    for col, dtype in DTYPES[name].items():
        assert got[col] == dtype, f"{name}.{col} is {got[col]}, expected {dtype}"


@pytest.mark.parametrize("name", NAMES)
def test_no_missing_and_only_expected_dtypes(name):
    df = datasets.load(name)
    assert set(df.dtypes.astype(str)) <= {STR, "int64", "float64"}
    assert not df.isna().any().any()


@pytest.mark.parametrize("name", NAMES)
def test_group_counts(name):
    col, k = GROUPS[name]
    assert datasets.load(name)[col].nunique() == k


@pytest.mark.parametrize("name", NAMES)
def test_shipped_file_identical_to_canonical_and_provenance(name):
    canonical = (ROOT / "data" / f"{name}.csv").read_bytes()
    assert md5(canonical) == MD5[name]
    assert md5(packaged(f"{name}.csv")) == MD5[name]


def test_readme_shipped_identical():
    assert packaged("README.md") == (ROOT / "data" / "README.md").read_bytes()


def test_package_data_folder_has_no_strays():
    files = {p.name for p in (resources.files("mlmkit") / "data").iterdir()
             if p.name.endswith((".csv", ".md"))}
    assert files == {f"{n}.csv" for n in NAMES} | {"README.md"}


@pytest.mark.parametrize("name,row,expected", [
    ("rats", 41, {"batch": "42", "m": 2, "n": 13}),
    ("rats", 70, {"batch": "71", "m": 4, "n": 14}),
    ("sleepstudy", 0, {"Reaction": 249.56, "Days": 0, "Subject": "308"}),
    ("alcohol", 0, {"country": "Russia", "year": 1985, "alcohol": 13.31}),
    ("imm10", 1, {"schid": "7472", "stuid": 8, "ses": -0.38999999, "math": 48, "schnum": "1"}),
])
def test_known_values(name, row, expected):
    rec = datasets.load(name).iloc[row]
    for col, value in expected.items():
        assert rec[col] == value


@pytest.mark.parametrize("name,stats", [
    ("sleepstudy", {"Reaction": 298.5079}),
    ("imm10", {"math": 51.3}),
])
def test_column_means(name, stats):
    df = datasets.load(name)
    for col, mean in stats.items():
        assert df[col].mean() == pytest.approx(mean, abs=0.01)


def test_imm10_school_sizes():
    sizes = datasets.load("imm10").groupby("schnum", sort=False).size().tolist()
    assert sizes == [23, 20, 24, 22, 22, 20, 67, 21, 21, 20]


def test_imm10_schools_are_in_imm23():
    a, b = datasets.load("imm10"), datasets.load("imm23")
    assert set(a.schid) <= set(b.schid)


@pytest.mark.parametrize("name", NAMES)
def test_load_returns_independent_copies(name):
    first = datasets.load(name)
    mutated = datasets.load(name)
    mutated.iloc[:, 0] = mutated.iloc[0, 0]
    mutated.loc[mutated.index[0], mutated.columns[-1]] = mutated.iloc[1, -1]
    assert datasets.load(name).equals(first)


@pytest.mark.parametrize("alias", ["RATS", " rats ", "rats.csv"])
def test_name_normalisation(alias):
    assert datasets.load(alias).shape == (71, 3)


@pytest.mark.parametrize("name", NAMES)
def test_describe_has_columns_source_and_licence(name):
    text = datasets.describe(name)
    assert text.startswith(name)
    for col in datasets.load(name).columns:
        assert f"`{col}`" in text or col in text
    for word in ("Source", "Citation", "Licence"):
        assert word in text


@pytest.mark.parametrize("bad,hint", [("rat", "rats"), ("sleep", "sleepstudy"), ("imm", None),
                                      ("cbpp", None)])
def test_unknown_name_lists_available(bad, hint):
    with pytest.raises(DataError) as info:
        datasets.load(bad)
    msg = str(info.value)
    assert all(n in msg for n in NAMES)
    if hint:
        assert f"did you mean '{hint}'" in msg
    with pytest.raises(DataError):
        datasets.describe(bad)


def test_non_string_name():
    with pytest.raises(DataError, match="string"):
        datasets.load(3)


def test_grouping_columns_work_in_pandas_groupby():
    df = datasets.load("rats")
    assert isinstance(df.groupby("batch").size(), pd.Series)
