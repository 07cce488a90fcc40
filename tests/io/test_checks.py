"""The shared input rules: one text check, one label encoder, whatever the entry point."""

from __future__ import annotations

import numpy as np
import pytest

from textsmooth.errors import DataError, InputError, LabelError
from textsmooth.io.checks import check_texts, encode_labels, lookup_labels
from textsmooth.io.readers import read_dataset
from textsmooth.targets.base import check_labels
from textsmooth.targets.classic import UniformSmoother


def test_integer_like_names_get_the_same_order_from_a_file_and_from_fit(tmp_path):
    labels = ["10", "2", "2", "10", "2"]
    path = tmp_path / "d.tsv"
    path.write_text("text\tlabel\n" + "".join(f"t{i}\t{y}\n" for i, y in enumerate(labels)))
    from_file = read_dataset(path, "text", "label")
    fitted = UniformSmoother().fit(from_file.texts, labels)
    assert from_file.label_names == ["2", "10"]
    assert fitted.classes_.tolist() == from_file.label_names
    # the soft-label columns are in the same class order: the hard label's column holds the most mass
    soft = fitted.transform(from_file.texts, labels)
    assert soft.argmax(1).tolist() == from_file.labels.tolist() == [1, 0, 0, 1, 0]


@pytest.mark.parametrize(
    ("labels", "names", "ids"),
    [
        (["10", "2", " 2", "+10"], ["2", "10"], [1, 0, 0, 1]),
        ([10, 2, 2.0], ["2", "10"], [1, 0, 0]),
        (np.array([3, 1, 3]), ["1", "3"], [1, 0, 1]),
        (["b", "a", "10", "2"], ["10", "2", "a", "b"], [3, 2, 0, 1]),  # not all numbers: as strings
        (np.array(["pos", "neg", "pos"]), ["neg", "pos"], [1, 0, 1]),
        ([], [], []),
    ],
)
def test_encode_labels_one_rule(labels, names, ids):
    got_ids, got_names = encode_labels(labels)
    assert got_names == names and got_ids.tolist() == ids and got_ids.dtype == np.int64


def test_missing_and_unknown_labels_name_their_row():
    for labels in (["a", None], ["a", float("nan")], ["a", " "], ["a", "NaN"], np.array([1.0, np.nan])):
        with pytest.raises(LabelError, match=r"row 2.*missing"):
            encode_labels(labels)
    assert lookup_labels(["+2", "10", "10"], ["2", "10"]).tolist() == [0, 1, 1]
    with pytest.raises(LabelError, match=r"row 3.*'x' is not one of the fitted classes"):
        lookup_labels(["2", "2", "x"], ["2", "10"])


def test_generators_keep_integer_ids_as_ids():
    ids, classes = check_labels([0, 2, 1], n_classes=4)
    assert ids.tolist() == [0, 2, 1] and classes.tolist() == [0, 1, 2, 3]
    ids, classes = check_labels(["10", "2"])
    assert ids.tolist() == [1, 0] and classes.tolist() == ["2", "10"]


def test_check_texts_rules_are_parameters():
    assert check_texts(["a", ""]) == ["a", ""] and check_texts([]) == []
    with pytest.raises(InputError, match="not one string"):
        check_texts("a b")
    with pytest.raises(DataError, match=r"row 2, column 'refs': refs\[1\] is NoneType, not a string"):
        check_texts(["a", None], name="refs")
    with pytest.raises(DataError, match=r"row 1.*missing \(NaN\)"):
        check_texts([float("nan")])
    with pytest.raises(DataError, match="targets is empty"):
        check_texts([], name="targets", allow_no_texts=False)
    with pytest.raises(DataError, match=r"f\.txt, row 2.*targets\[1\] is empty \(one per line\)"):
        check_texts(["a", "  "], name="targets", path="f.txt", allow_blank=False, blank_hint="one per line")
