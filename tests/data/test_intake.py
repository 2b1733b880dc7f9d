"""Reading and validating responses: column maps, reverse keying, anchors, hard errors, file formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayeslead.data import load_responses
from bayeslead.errors import InputError
from bayeslead.instrument import load_instrument
from tests.conftest import TESTS

FIXTURES = TESTS / "fixtures" / "instruments"


ITEMS = ["a1", "a2", "a3", "b1", "b2", "b3"]


@pytest.fixture
def mini():
    return load_instrument(FIXTURES / "mini.yaml")


def _write(tmp_path: Path, text: str, name: str = "responses.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = "id,a1,a2,a3,b1,b2,b3\n1,7,6,5,4,4,4\n2,1,2,,3,3,3\n3,4,4,4,4,4,4\n"


def test_reads_csv_maps_columns_and_keeps_missing(tmp_path, mini):
    path = _write(tmp_path, GOOD.replace("b3", "B_3"))
    data = load_responses(path, ITEMS, instrument=mini, id_column="id", column_map={"b3": "B_3"})
    assert list(data.frame.columns) == ITEMS
    assert data.frame.loc[1, "a3"] != data.frame.loc[1, "a3"]  # NaN
    assert data.frame["b3"].tolist() == [4.0, 3.0, 4.0]
    assert data.ranges["a1"] == (1, 7)
    assert len(data.sha256) == 64 and data.n == 3


def test_reverse_scoring_uses_the_scale_range(tmp_path):
    inst = load_instrument(FIXTURES / "small.yaml")
    items = ["INNO1", "INNO2", "INNO3"]
    path = _write(tmp_path, "INNO1,INNO2,INNO3\n7,6,1\n2,2,7\n")
    data = load_responses(path, items, instrument=inst)
    assert data.reversed_items == ("INNO3",)
    assert data.frame["INNO3"].tolist() == [7.0, 1.0]  # 1 + 7 - x
    assert data.raw["INNO3"].tolist() == [1.0, 7.0]


def test_anchor_labels_are_read_as_values(tmp_path):
    inst = load_instrument(FIXTURES / "small.yaml")
    path = _write(tmp_path, "INNO1,INNO2,INNO3\nStrongly agree,Disagree,4\n非常不同意,同意,7\n")
    data = load_responses(path, ["INNO1", "INNO2", "INNO3"], instrument=inst)
    assert data.raw["INNO1"].tolist() == [7.0, 1.0]
    assert data.raw["INNO2"].tolist() == [2.0, 6.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "id,a1,a2,a3,b1\n1,1,2,3,4\n",
            "lacks 2 column(s) the model needs: 'b2', 'b3'",
        ),
        (
            "id,a1,a2,a3,b1,b2,b3\n1,1,2,3,4,5,6\n2,1,2,three,4,5,6\n3,1,2,x,4,5,6\n",
            "column 'a3': non-numeric values 'three' in row 3; 'x' in row 4 (the header is row 1); expected numbers",
        ),
        (
            "id,a1,a2,a3,b1,b2,b3\n1,1,2,3,4,5,6\n2,1,2,3,9,5,6\n",
            "column 'b1': value '9' outside the scale 1..7 (whole numbers) in rows 3 (the header is row 1)",
        ),
        (
            "id,a1,a2,a3,b1,b2,b3\n1,1,2,3,4,5,6\n2,1,2.5,3,4,5,6\n",
            "column 'a2': value '2.5' outside the scale 1..7 (whole numbers) in rows 3",
        ),
        (
            "id,a1,a2,a3,b1,b2,b3\n7,1,2,3,4,5,6\n8,1,2,3,4,5,6\n7,1,2,3,4,5,6\n",
            "column 'id': duplicate respondent ids '7' in rows 2, 4 (the header is row 1)",
        ),
        ("id,a1,a2,a3,b1,b2,b3\n", "is empty: it has a header but no response rows"),
        ("", "is empty (0 bytes)"),
    ],
)
def test_hard_errors_name_file_column_rows_and_value(tmp_path, mini, text, expected):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_responses(path, ITEMS, instrument=mini, id_column="id")
    assert caught.value.exit_code == 2
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_inline_scale_and_missing_codes(tmp_path):
    path = _write(tmp_path, "x1,x2\n1,-99\n5,3\n")
    data = load_responses(path, ["x1", "x2"], scale=(1, 5), missing_codes=[-99])
    assert np.isnan(data.frame.loc[0, "x2"]) and data.ranges == {"x1": (1, 5), "x2": (1, 5)}
    with pytest.raises(InputError, match="value '-99' outside the scale 1..5"):
        load_responses(path, ["x1", "x2"], scale=(1, 5))


def test_xlsx_and_spss_files(tmp_path, mini):
    frame = pd.DataFrame(
        {"a1": [1, 7], "a2": [2, 6], "a3": [3, 5], "b1": [4, 4], "b2": [5, 3], "b3": [6, 2]}
    )
    xlsx = tmp_path / "r.xlsx"
    frame.to_excel(xlsx, index=False)
    assert load_responses(xlsx, ITEMS, instrument=mini).frame["b3"].tolist() == [6.0, 2.0]

    import pyreadstat

    sav = tmp_path / "r.sav"
    coded = frame.copy()
    coded["a1"] = [0, 6]  # SPSS codes 0..6 labelled with the instrument's anchors
    coded.loc[1, "b2"] = 99  # user-defined missing
    pyreadstat.write_sav(
        coded,
        str(sav),
        variable_value_labels={"a1": {0: "Disagree", 6: "Agree"}},
        missing_ranges={"b2": [99]},
    )
    data = load_responses(sav, ITEMS, instrument=mini)
    assert np.isnan(data.frame.loc[1, "b2"])
    assert data.frame["b3"].tolist() == [6.0, 2.0]
