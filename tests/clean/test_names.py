import pytest

from pipeline.clean.names import normalize_name


@pytest.mark.parametrize(
    "raw, value",
    [("Nguyễn Văn An.....", "Nguyễn Văn An"),
     ("......Nguyễn Văn An", "Nguyễn Văn An"),
     ("NGUYỄN văn an", "Nguyễn Văn An"),
     ("  trần   thị  hoà __", "Trần Thị Hoà"),  # tone placement kept as written
     ("Lê Thị Thuỷ:", "Lê Thị Thuỷ"),
     ("Nguyễn Văn .... An", "Nguyễn Văn An"),
     ("đặng thị hường", "Đặng Thị Hường"),
     ("h'hen niê", "H'Hen Niê")],
)
def test_normalize_name(raw, value):
    assert normalize_name(raw) == (value, None)


@pytest.mark.parametrize("raw", ["", "   ", "......", "___"])
def test_blank_name(raw):
    assert normalize_name(raw) == (None, None)


def test_suspicious_names_get_a_note_but_keep_the_value():
    value, note = normalize_name("Nguy3n Văn An")
    assert value == "Nguy3n Văn An" and "chữ số" in note
    value, note = normalize_name("An")
    assert value == "An" and "một chữ" in note
    value, note = normalize_name("Nguyễn Vän An")
    assert value == "Nguyễn Vän An" and "ä" in note
