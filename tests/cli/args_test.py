"""Tests for qgcam_tf.cli.args: each argparse type on good values and on bad ones (exact lines)."""

import argparse
import math
import os
import sys

import pytest

from qgcam_tf.cli.args import (
    RUN_FILES,
    add_backend,
    bounded_int,
    class_index,
    existing_file,
    int_list,
    name_list,
    non_negative_float,
    output_dir,
    output_file,
    positive_float,
    positive_int,
    probability,
    qubit_list,
    removed_on_failure,
    run_dir,
    run_metadata,
    seed,
    shots,
    typed,
)
from qgcam_tf.testing.fuzz import fake_run_dir


def rejects(parse, text) -> str:
    """The message of the ArgumentTypeError that ``parse(text)`` raises."""
    with pytest.raises(argparse.ArgumentTypeError) as e:
        parse(text)
    return str(e.value)


@pytest.mark.parametrize(
    "parse,text,value",
    [
        (positive_int, "1", 1),
        (positive_int, "64", 64),
        (positive_float, "5e-3", 0.005),
        (positive_float, "2", 2.0),
        (non_negative_float, "0", 0.0),
        (non_negative_float, "2.5", 2.5),
        (probability, "0", 0.0),
        (probability, "1", 1.0),
        (probability, "0.25", 0.25),
        (class_index, "-1", -1),
        (class_index, "0", 0),
        (class_index, "9", 9),
        (shots, "none", None),
        (shots, "NONE", None),
        (shots, "None", None),
        (shots, "1", 1),
        (shots, "1000", 1000),
        (int_list, "4", (4,)),
        (int_list, "4,8,12", (4, 8, 12)),
    ],
)
def test_good_values_convert(parse, text, value):
    """Each type turns a good text into the value it stands for (None for 'none' shots)."""
    got = parse(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    "parse,text,expected",
    [
        (positive_int, "0", "an int >= 1"),
        (positive_int, "-1", "an int >= 1"),
        (positive_int, "1.5", "an int >= 1"),
        (positive_int, "x", "an int >= 1"),
        (positive_int, "", "an int >= 1"),
        (positive_float, "0", "a finite number > 0"),
        (positive_float, "-1", "a finite number > 0"),
        (positive_float, "inf", "a finite number > 0"),
        (positive_float, "nan", "a finite number > 0"),
        (positive_float, "x", "a finite number > 0"),
        (non_negative_float, "-0.1", "a finite number >= 0"),
        (non_negative_float, "inf", "a finite number >= 0"),
        (non_negative_float, "nan", "a finite number >= 0"),
        (probability, "1.5", "a probability in [0, 1]"),
        (probability, "-0.1", "a probability in [0, 1]"),
        (probability, "nan", "a probability in [0, 1]"),
        (probability, "inf", "a probability in [0, 1]"),
        (probability, "half", "a probability in [0, 1]"),
        (class_index, "-2", "a class index >= 0, or -1 for the predicted class"),
        (class_index, "1.0", "a class index >= 0, or -1 for the predicted class"),
        (class_index, "x", "a class index >= 0, or -1 for the predicted class"),
        (shots, "0", "an int in [1, 1000000] or 'none'"),
        (shots, "-5", "an int in [1, 1000000] or 'none'"),
        (shots, "1.5", "an int in [1, 1000000] or 'none'"),
        (shots, "nonee", "an int in [1, 1000000] or 'none'"),
        (shots, "", "an int in [1, 1000000] or 'none'"),
        (int_list, "4,x", "comma-separated ints >= 1 (e.g. 4,8,12)"),
        (int_list, "4,0", "comma-separated ints >= 1 (e.g. 4,8,12)"),
        (int_list, "", "comma-separated ints >= 1 (e.g. 4,8,12)"),
    ],
)
def test_bad_values_get_one_line_naming_the_value(parse, text, expected):
    """A bad value is one ArgumentTypeError line: what was expected, then the text given."""
    assert rejects(parse, text) == f"must be {expected}, got {text!r}"


def test_typed_turns_overflow_into_the_same_line_and_names_the_type():
    """typed() catches OverflowError like ValueError, and argparse sees the expectation as name."""
    whole = typed(lambda t: int(float(t)), lambda v: True, "a whole number")
    assert whole("3.0") == 3
    assert rejects(whole, "inf") == "must be a whole number, got 'inf'"  # int(inf) overflows
    assert whole.__name__ == "a whole number"


def test_argparse_prefixes_the_option():
    """Through argparse the line is `PROG: error: argument OPT: <type's message>`, exit 2."""
    parser = argparse.ArgumentParser(prog="p")
    parser.add_argument("--epochs", type=positive_int)
    with pytest.raises(SystemExit) as e:
        parser.parse_args(["--epochs", "0"])
    assert e.value.code == 2
    parser = argparse.ArgumentParser(prog="p", exit_on_error=False)
    parser.add_argument("--epochs", type=positive_int)
    with pytest.raises(argparse.ArgumentError) as err:
        parser.parse_args(["--epochs", "nan"])
    assert str(err.value) == "argument --epochs: must be an int >= 1, got 'nan'"


def test_run_dir_needs_a_folder_holding_model_json(tmp_path):
    """run_dir rejects a missing folder, a file, and a folder without model.json."""
    missing = str(tmp_path / "missing")
    assert rejects(run_dir, missing) == f"run directory {missing!r} does not exist"
    (tmp_path / "file").write_text("x")
    assert rejects(run_dir, str(tmp_path / "file")).endswith("does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert rejects(run_dir, str(empty)) == (
        f"{str(empty)!r} holds no model.json: is it a run directory of `qgcam train`?"
    )
    (empty / "model.json").mkdir()  # a folder named model.json is not the file
    assert "holds no model.json" in rejects(run_dir, str(empty))
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.json").write_text("{}")
    assert "not a model written by `qgcam train`" in rejects(run_dir, str(run))
    (run / "model.json").write_text("{broken")
    assert "is not valid JSON" in rejects(run_dir, str(run))
    (run / "model.json").write_text('{"keras_model": {}, "metadata": {}}')
    assert rejects(run_dir, str(run)) == f"{str(run)!r} holds no model.weights.h5"
    fake_run_dir(run)
    assert run_dir(str(run)) == str(run)


def test_run_files_are_the_names_the_model_tier_writes():
    """RUN_FILES repeats model.run's file names (that module imports TensorFlow)."""
    from qgcam_tf.model.run import MODEL_CONFIG, MODEL_WEIGHTS

    assert RUN_FILES == (MODEL_CONFIG, MODEL_WEIGHTS)


@pytest.mark.parametrize(
    "parse,text,expected",
    [
        (bounded_int(1, 10), "11", "must be an int in [1, 10], got '11'"),
        (bounded_int(1, 10), "0", "must be an int in [1, 10], got '0'"),
        (seed, "-1", "must be an int in [0, 4294967295], got '-1'"),
        (positive_int, str(2**31), f"must be an int <= {2**31 - 1}, got '{2**31}'"),
        (
            qubit_list(2, 24),
            "4,25",
            "must be comma-separated ints in [2, 24] (e.g. 4,8,12), got '4,25'",
        ),
        (shots, "1000001", "must be an int in [1, 1000000] or 'none', got '1000001'"),
    ],
)
def test_upper_bounds_name_both_ends(parse, text, expected):
    """Bounded types refuse a value past either end with a line naming the range."""
    assert rejects(parse, text) == expected


def test_output_dir_is_checked_by_writing_a_probe(tmp_path):
    """output_dir takes a new or existing folder and refuses files and missing parents,
    leaving nothing behind."""
    assert output_dir(str(tmp_path / "new")) == str(tmp_path / "new")
    assert output_dir(str(tmp_path)) == str(tmp_path)
    (tmp_path / "file").write_text("x")
    assert rejects(output_dir, str(tmp_path / "file")).endswith("exists and is not a directory")
    assert "parent directory" in rejects(output_dir, str(tmp_path / "no" / "out"))
    assert "parent directory" in rejects(output_dir, str(tmp_path / "file" / "out"))
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_output_file_needs_an_existing_writable_parent_and_creates_nothing(tmp_path):
    """output_file takes a new or existing file in an existing folder; a folder, a missing
    parent and a parent that is a file are one ValueError naming the option and the path."""
    output_file(str(tmp_path / "p.csv"))
    (tmp_path / "file").write_text("x")
    output_file(str(tmp_path / "file"))  # replaced atomically by the command
    cases = {
        str(tmp_path): r"--out '.*' is a directory, not a file",
        str(tmp_path / "no" / "such" / "p.csv"): r"the parent directory '.*no/such' does not",
        str(tmp_path / "file" / "p.csv"): r"the parent directory '.*file' is not a directory",
        "": r"--out: must be a file path, got ''",
    }
    for path, message in cases.items():
        with pytest.raises(ValueError, match=message):
            output_file(path)
    with pytest.raises(ValueError, match=r"^--csv '"):
        output_file(str(tmp_path), "--csv")
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_run_metadata_reads_the_json_and_tolerates_a_non_object(tmp_path):
    """run_metadata returns model.json's metadata object; a list there reads as {}."""
    import json

    run = fake_run_dir(tmp_path / "run")
    with open(os.path.join(run, "model.json"), "w") as f:
        json.dump({"keras_model": {}, "metadata": {"class_names": ["a", "b"]}}, f)
    assert run_metadata(run) == {"class_names": ["a", "b"]}
    with open(os.path.join(run, "model.json"), "w") as f:
        json.dump({"keras_model": {}, "metadata": [1, 2]}, f)
    assert run_metadata(run) == {}


def test_removed_on_failure_removes_only_a_new_path(tmp_path):
    """A failing block removes the output it created, keeps an existing one, and re-raises."""
    new, old = tmp_path / "new", tmp_path / "old"
    old.mkdir()
    with pytest.raises(ValueError):
        with removed_on_failure(str(new)), removed_on_failure(str(old)):
            new.mkdir()
            (new / "part.csv").write_text("x")
            (old / "part.csv").write_text("x")
            raise ValueError("bad")
    assert not new.exists() and (old / "part.csv").exists()
    with removed_on_failure(str(new)):
        new.mkdir()
    assert new.is_dir()


def test_existing_file_rejects_directories_and_missing_files(tmp_path):
    """existing_file names a directory as one and a missing path as not found."""
    assert rejects(existing_file, str(tmp_path)) == f"input file {str(tmp_path)!r}: a directory"
    missing = str(tmp_path / "no.png")
    assert rejects(existing_file, missing) == f"input file {missing!r}: not found"
    (tmp_path / "a.png").write_bytes(b"")
    assert existing_file(str(tmp_path / "a.png")) == str(tmp_path / "a.png")


def test_name_list_splits_commas_and_rejects_unknown_names():
    """name_list splits on commas (empty parts dropped) and lists the choices on a bad name."""
    parse = name_list(("deletion", "insertion", "road"))
    assert parse("road") == ["road"]
    assert parse("deletion,road") == ["deletion", "road"]
    assert parse("insertion,,road,") == ["insertion", "road"]
    for text in ("deletion,pointing", "Road", "", ","):
        assert rejects(parse, text) == f"choose from deletion, insertion, road; got {text!r}"


def test_add_backend_offers_tfq_and_tf_with_its_default(capsys):
    """--backend takes tfq or tf, defaults to the given one, and rejects anything else."""
    parser = argparse.ArgumentParser(prog="p")
    add_backend(parser, default="tf")
    assert parser.parse_args([]).backend == "tf"
    assert parser.parse_args(["--backend", "tfq"]).backend == "tfq"
    with pytest.raises(SystemExit):
        parser.parse_args(["--backend", "cirq"])
    assert "invalid choice: 'cirq'" in capsys.readouterr().err
    assert "(default: tf)" in " ".join(parser.format_help().split())


def test_finite_checks_hold_for_extreme_floats():
    """The largest finite float is accepted; its overflow to inf is not."""
    big = repr(sys.float_info.max)
    assert positive_float(big) == sys.float_info.max
    assert math.isinf(float("1e400"))
    assert rejects(positive_float, "1e400") == "must be a finite number > 0, got '1e400'"


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
