"""Real survey files: encodings, Qualtrics header rows, workbook sheets, "5 - Strongly agree"
answers, missing tokens counted, unusable (constant, duplicated) columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeslead.data import check_usable_columns, load_responses
from bayeslead.data.values import label_value
from bayeslead.errors import InputError
from bayeslead.instrument import load_instrument
from tests.conftest import TESTS

FIXTURES = TESTS / "fixtures" / "instruments"
ITEMS = ["INNO1", "INNO2", "INNO3"]


@pytest.fixture
def small():
    return load_instrument(FIXTURES / "small.yaml")


def test_cp1252_file_names_the_encoding_and_the_key(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("firm,x1,x2\nCaf\xe9 M\xfcller,1,2\nSo\xf1a,3,4\n".encode("cp1252"))
    with pytest.raises(InputError) as caught:
        load_responses(path, ["x1", "x2"], scale=(1, 5))
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert f"Data file {path} is not valid UTF-8 (byte 0xe9 on line 2)" in message
    assert "it looks like cp1252" in message and "data: {encoding: cp1252}" in message
    data = load_responses(path, ["x1", "x2"], scale=(1, 5), encoding="cp1252")
    assert data.frame["x2"].tolist() == [2.0, 4.0]
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        load_responses(path, ["x1", "x2"], scale=(1, 5), encoding="klingon")


def test_utf8_with_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("x1,x2\n1,2\n3,4\n".encode("utf-8-sig"))
    assert load_responses(path, ["x1", "x2"], scale=(1, 5)).frame.columns.tolist() == ["x1", "x2"]


QUALTRICS = (
    "StartDate,ResponseId,x1,x2\n"
    '"Start Date","Response ID","I like it","I use it"\n'
    '"{""ImportId"":""startDate""}","{""ImportId"":""_recordId""}","{""ImportId"":""QID1""}",'
    '"{""ImportId"":""QID2""}"\n'
    "2026-01-01,R_1,1,2\n2026-01-02,R_2,4,n/a\n2026-01-03,R_3,7,5\n"
)


def test_qualtrics_header_rows_are_skipped_and_rows_keep_their_file_numbers(tmp_path):
    path = tmp_path / "qualtrics.csv"
    path.write_text(QUALTRICS, encoding="utf-8")
    with pytest.raises(InputError, match="non-numeric values 'I like it' in row 2"):
        load_responses(path, ["x1", "x2"], scale=(1, 5))
    with pytest.raises(InputError) as caught:
        load_responses(path, ["x1", "x2"], scale=(1, 5), skip_rows=2)
    assert "value '7' outside the scale 1..5 (whole numbers) in rows 6 (the header" in str(
        caught.value
    )
    data = load_responses(path, ["x1", "x2"], scale=(1, 7), skip_rows=2, id_column="ResponseId")
    assert data.n == 3 and np.isnan(data.frame.loc[1, "x2"])
    assert data.conversions["missing_tokens"] == {"n/a": 1}
    assert any("cells read as missing: 'n/a' (1)" in str(w) for w in data.warnings)


def test_second_sheet(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"notes": ["exported 2026"]}).to_excel(writer, sheet_name="About", index=False)
        pd.DataFrame({"x1": [1, 2, 3], "x2": [3, 2, 1]}).to_excel(
            writer, sheet_name="Responses", index=False
        )
    with pytest.raises(InputError) as caught:
        load_responses(path, ["x1", "x2"], scale=(1, 5))
    message = str(caught.value)
    assert f"Data file {path} (sheet 'About') lacks 2 column(s)" in message
    assert "sheet 'About' was read: choose another one with data.sheet ('Responses')" in message
    assert load_responses(path, ["x1", "x2"], scale=(1, 5), sheet="Responses").n == 3
    assert load_responses(path, ["x1", "x2"], scale=(1, 5), sheet=1).n == 3
    with pytest.raises(InputError, match="no sheet 'Data' .data.sheet.; sheets in the file: "):
        load_responses(path, ["x1", "x2"], scale=(1, 5), sheet="Data")


def test_number_and_label_answers_map_when_they_agree_with_the_scale(tmp_path, small):
    text = (
        "INNO1,INNO2,INNO3\n"
        "7 - Strongly agree,Agree (6),4\n"
        "1 = Strongly disagree,2: Disagree,Somewhat agree\n"
        "n/a,NA,3\n"
    )
    path = tmp_path / "labels.csv"
    path.write_text(text, encoding="utf-8")
    data = load_responses(path, ITEMS, instrument=small)
    assert data.raw["INNO1"].tolist()[:2] == [7.0, 1.0]
    assert data.raw["INNO2"].tolist()[:2] == [6.0, 2.0]
    assert data.raw["INNO3"].tolist() == [4.0, 5.0, 3.0]
    assert data.conversions == {
        "anchor_labels": 5,
        "missing_tokens": {"n/a": 1, "NA": 1},
        "missing_codes": 0,
    }
    path.write_text("INNO1,INNO2,INNO3\n7 - Strongly disagree,2,3\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError, match="non-numeric value '7 - Strongly disagree' in row 2"):
        load_responses(path, ITEMS, instrument=small)


def test_label_value_rules():
    labels = {"disagree": 1.0, "agree": 7.0}
    assert label_value("7 - agree", labels) == 7.0
    assert label_value("agree (7)", labels) == 7.0
    assert label_value("4 - neutral", labels) == 4.0  # 4 has no anchor, 'neutral' names no value
    assert label_value("1 - agree", labels) is None  # the number and the label disagree
    assert label_value("4 - agree", labels) is None
    assert label_value("agree a lot", labels) is None


def test_non_numeric_message_lists_each_value_with_its_own_rows(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("x1,x2\n1,2\nabc,2\nxyz,3\nabc,4\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_responses(path, ["x1", "x2"], scale=(1, 5))
    assert (
        "column 'x1': non-numeric values 'abc' in rows 3, 5; 'xyz' in row 4 (the header is row 1)"
        in str(caught.value)
    )


def test_constant_and_duplicated_items_are_named_with_or_without_blanks():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.integers(1, 6, (40, 4)).astype(float), columns=["a", "b", "c", "d"])
    frame["k"] = 3.0
    frame.loc[[2, 5], "k"] = np.nan
    frame["dup"] = frame["b"]
    frame.loc[[1, 7], "dup"] = np.nan
    frame.loc[[3], "b"] = np.nan
    with pytest.raises(InputError) as caught:
        check_usable_columns(frame, "survey.csv")
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert "Data file survey.csv: columns the model cannot use:" in message
    assert "k: no variance: every respondent who answered gave 3 (38 answers)" in message
    assert "b, dup: duplicated items: the same answers" in message
    check_usable_columns(frame[["a", "b", "c", "d"]], "survey.csv")
