"""Bad inputs for every ``qgcam`` command and for the export's signatures (test support).

The fuzz test (``tests/testing/fuzz_test.py``) runs this catalogue. Each :class:`CLICase`
is an argument list for :func:`qgcam_tf.cli.main.main`; it must end with exit status 2 and
exactly one line on stderr naming the problem (no traceback), and leave its working
directory as it found it (no partial output: a new ``--out`` does not exist afterwards, an
existing one is unchanged). Each :class:`SignatureCase` is a bad tensor for the exported
``serving_default`` or ``explain`` signature, which must be refused with
``INVALID_ARGUMENT`` (a wrong dtype may be refused while binding the arguments, as TF
Serving does).

Arguments name their files with placeholders, filled in by :func:`expand`:

* ``{run}``: a tiny MNIST-like hybrid run (8x8x1 inputs, 3 classes), ``{speech}`` the same
  model recorded as a speech run, ``{classical}`` a classical twin;
* ``{runs}/NAME``: broken copies of ``{run}`` (see :func:`build_world`);
* ``{files}/NAME``: corrupt or odd input files of every supported kind;
* ``{case}``: the case's own empty working directory, and ``{out}`` = ``{case}/out``, a
  path that does not exist; :attr:`CLICase.setup` puts things there first.

A case that fails because of code its catalogue entry names an ``owner`` for carries an
``xfail_reason``: the test expects it to fail (strictly), so it is fixed by its owner and
then loses the mark.

Example::

    world = build_world(tmp_path_factory.getbasetemp())
    for case in cli_cases():
        argv = expand(case.argv, world.paths(case_dir))
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
import struct
import wave
import zlib
from collections.abc import Callable

import numpy as np

__all__ = [
    "CLICase",
    "SignatureCase",
    "World",
    "build_world",
    "cli_cases",
    "expand",
    "fake_run_dir",
    "prepare_case",
    "signature_cases",
    "snapshot",
]

INPUT_SHAPE = (28, 28, 1)
CLASSES = [str(d) for d in range(10)]
# Options that keep a command cheap if a bad value were wrongly accepted.
_TRAIN = ("--limit", "64", "--epochs", "1", "--qubits", "10", "--depth", "1")
_EVALUATE = ("--count", "2", "--steps", "2", "--methods", "centre", "--metrics", "deletion")
_NOISE = ("--count", "2", "--repeats", "1", "--preset", "depolarizing", "--strengths", "0")


@dataclasses.dataclass(frozen=True)
class CLICase:
    """One bad command line.

    Attributes:
        name: unique id (``command-what``).
        argv: the arguments, with placeholders (see the module docstring).
        message: a regular expression the one error line must match.
        setup: what :func:`prepare_case` puts in the case directory first: ``out_file``
            (``{out}`` is a file), ``out_dir`` (``{out}`` is a directory), ``version``
            (``{out}/1`` is an export version), ``locked`` (``{case}/locked`` is a directory
            no one may write), ``secret`` (``{case}/secret.png`` and ``{case}/secret-run``'s
            ``model.json`` may not be read).
        mode: ``in-process`` (through :func:`qgcam_tf.cli.main.main`), ``subprocess``
            (``python -m qgcam_tf``), or ``unprivileged`` (a subprocess without root's
            permission override, for the permission cases).
        owner: the helper whose code must change for the case to pass.
        xfail_reason: why the case fails today (empty: it passes).
        env: ``(name, value)`` pairs of environment variables set for the case (e.g. a bad
            ``TF_CONFIG``).
    """

    name: str
    argv: tuple[str, ...]
    message: str
    setup: tuple[str, ...] = ()
    mode: str = "in-process"
    owner: str = ""
    xfail_reason: str = ""
    env: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class SignatureCase:
    """One bad request to an exported signature.

    Attributes:
        name: unique id.
        signature: ``serving_default`` or ``explain``.
        images: ``() -> array`` of the ``images`` input.
        class_index: ``() -> array`` of explain's ``class_index`` (None: one -1 per image).
        binding: a wrong dtype, which may be refused while binding (TypeError/ValueError).
        owner / xfail_reason: as in :class:`CLICase`.
    """

    name: str
    signature: str
    images: Callable[[], np.ndarray]
    class_index: Callable[[], np.ndarray] | None = None
    binding: bool = False
    owner: str = ""
    xfail_reason: str = ""


@dataclasses.dataclass(frozen=True)
class World:
    """The shared files of the catalogue (written once by :func:`build_world`).

    Attributes:
        root: the folder holding them.
        run / speech / classical: run directories (see the module docstring).
        runs: the folder of broken runs.
        files: the folder of bad input files.
    """

    root: str
    run: str
    speech: str
    classical: str
    runs: str
    files: str

    def paths(self, case_dir: str) -> dict[str, str]:
        """The placeholders of a case working in ``case_dir``."""
        return {
            "run": self.run,
            "speech": self.speech,
            "classical": self.classical,
            "runs": self.runs,
            "files": self.files,
            "case": case_dir,
            "out": os.path.join(case_dir, "out"),
        }


def expand(argv, paths: dict[str, str]) -> list[str]:
    """``argv`` with each ``{name}`` replaced by ``paths[name]``."""
    return [a.format(**paths) if "{" in a else a for a in argv]


def fake_run_dir(path) -> str:
    """Makes ``path`` a folder that passes the run-directory checks of argument parsing (a
    ``model.json`` with an empty model, an empty weights file), for tests of parsing alone."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "model.json"), "w") as f:
        json.dump({"keras_model": {}, "metadata": {}}, f)
    open(os.path.join(path, "model.weights.h5"), "wb").close()
    return str(path)


# --------------------------------------------------------------------------- the world
def _png(pixels: np.ndarray) -> bytes:
    """A greyscale 8-bit PNG of ``pixels`` (uint8 [H, W]), written by hand."""
    height, width = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + row.tobytes() for row in pixels.astype(np.uint8))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _wav(samples: np.ndarray, rate: int = 16000, width: int = 2) -> bytes:
    """A mono WAV of int16 ``samples``."""
    import io

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    return buffer.getvalue()


def _float_wav(samples: np.ndarray, rate: int = 16000) -> bytes:
    """A mono IEEE-float WAV (format 3) of ``samples``."""
    data = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _sph(samples: np.ndarray, *, count: int | None = None) -> bytes:
    """A NIST SPHERE file of int16 ``samples`` (``count`` overrides the declared count)."""
    lines = [
        "NIST_1A",
        "   1024",
        f"sample_count -i {len(samples) if count is None else count}",
        "sample_rate -i 16000",
        "channel_count -i 1",
        "sample_n_bytes -i 2",
        "sample_byte_format -s2 01",
        "sample_coding -s3 pcm",
        "end_head",
    ]
    header = ("\n".join(lines) + "\n").encode().ljust(1024, b" ")
    return header + samples.astype("<i2").tobytes()


def _npy_bytes(array: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


class _Marker:
    """Unpickling this creates the file ``path``: a pickle that runs code when loaded."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _files(folder: str) -> None:
    """Writes the bad (and a few good) input files into ``folder``."""
    rng = np.random.default_rng(0)
    good = (rng.uniform(size=INPUT_SHAPE[:2]) * 255).astype(np.uint8)
    png = _png(good)
    garbage = rng.integers(0, 256, size=512, dtype=np.uint8).tobytes()
    speech = (np.sin(np.arange(16000) * 0.05) * 8000).astype(np.int16)
    images = rng.uniform(size=(3, *INPUT_SHAPE)).astype(np.float32)
    h, w, _ = INPUT_SHAPE
    write = {
        "good.png": png,
        "good.npy": _npy_bytes(images[0]),
        "good.wav": _wav(speech),
        "empty.png": b"",
        "truncated.png": png[:40],
        "garbage.png": garbage,
        "text.png": b"hello, this is not a picture\n",
        "empty.jpg": b"",
        "truncated.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01",
        "garbage.jpg": garbage,
        "empty.gif": b"",
        "garbage.gif": b"GIF89a" + garbage[:64],
        "garbage.bmp": b"BM" + garbage[:64],
        "png-named.jpg": png,  # a PNG under a JPEG name is still a picture: decoded fine
        "ünïcödé 图像.png": garbage,
        "with space.png": b"",
        "empty.npy": b"",
        "garbage.npy": garbage,
        "truncated.npy": _npy_bytes(images)[:100],
        "header-only.npy": _npy_bytes(images)[:128],
        "wrong-shape.npy": _npy_bytes(np.zeros((5, 5), np.float32)),
        "wrong-size.npy": _npy_bytes(np.zeros((1, h + 1, w, 1), np.float32)),
        "rgb.npy": _npy_bytes(np.zeros((1, h, w, 3), np.float32)),
        "rank5.npy": _npy_bytes(np.zeros((1, 1, h, w, 1), np.float32)),
        "scalar.npy": _npy_bytes(np.float32(0.5)),
        "empty-batch.npy": _npy_bytes(np.zeros((0, h, w, 1), np.float32)),
        "complex.npy": _npy_bytes(np.zeros((1, h, w, 1), np.complex64)),
        "strings.npy": _npy_bytes(np.full((1, h, w, 1), "a")),
        "bool.npy": _npy_bytes(np.ones((1, h, w, 1), bool)),
        "object.npy": _npy_bytes(np.array([images[0], None], dtype=object), allow_pickle=True),
        "structured.npy": _npy_bytes(np.zeros((1, h, w, 1), dtype=[("a", "f4"), ("b", "f4")])),
        "nan.npy": _npy_bytes(np.where(np.eye(h)[None, :, :, None] > 0, np.nan, images[:1])),
        "inf.npy": _npy_bytes(np.full((1, h, w, 1), np.inf, np.float32)),
        "uint8-255.npy": _npy_bytes((images * 255).astype(np.uint8)),
        "float-255.npy": _npy_bytes(images * 255),
        "negative.npy": _npy_bytes(images - 1.0),
        "float32-max.npy": _npy_bytes(np.full((1, h, w, 1), np.finfo(np.float32).max)),
        "batch-one-nan.npy": _npy_bytes(
            np.concatenate([images[:2], np.full_like(images[:1], np.nan)])
        ),
        "zip-named.npy": b"PK\x03\x04" + garbage[:100],
        "empty.wav": b"",
        "garbage.wav": garbage,
        "truncated.wav": _wav(speech)[:30],
        "header-only.wav": _wav(speech[:0]),
        "huge-declared.wav": _wav(speech)[:40] + struct.pack("<I", 2**31) + speech[:100].tobytes(),
        "nan.wav": _float_wav(np.full(1600, np.nan)),
        "zero-rate.wav": _wav(speech, rate=1)[:24] + struct.pack("<I", 0) + _wav(speech)[28:],
        "text.wav": b"RIFF is a word, this file is text\n",
        "empty.sph": b"",
        "garbage.sph": garbage,
        "truncated.sph": _sph(speech)[:200],
        "header-only.sph": _sph(speech[:0]),
        "huge-declared.sph": _sph(speech[:100], count=2**40),
        "garbage.flac": b"fLaC" + garbage[:64],
        "empty.npz": b"",
        "garbage.npz": garbage,
        "truncated.npz": b"PK\x03\x04" + garbage[:30],
        "wrong-keys.npz": None,
        "object.npz": None,
        "wrong-shape.npz": None,
        "float-labels.npz": None,
        "nan-images.npz": None,
        "bad-labels.npz": None,
        "few-labels.npz": None,
        "empty.txt": b"",
        "doc-without-markers.md": b"# a document\n\nno benchmark block here\n",
    }
    for name, data in write.items():
        if data is not None:
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
    x = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    y = np.arange(20) % 10
    npz = {
        "wrong-keys.npz": {"images": x, "labels": y},
        "wrong-shape.npz": {"x_train": x[:, :20], "y_train": y, "x_test": x[:, :20], "y_test": y},
        "float-labels.npz": {"x_train": x, "y_train": y + 0.5, "x_test": x, "y_test": y + 0.5},
        "nan-images.npz": {
            "x_train": np.full((20, 28, 28), np.nan),
            "y_train": y,
            "x_test": np.full((20, 28, 28), np.nan),
            "y_test": y,
        },
        "bad-labels.npz": {"x_train": x, "y_train": y + 10, "x_test": x, "y_test": y + 10},
        "few-labels.npz": {"x_train": x, "y_train": y[:5], "x_test": x, "y_test": y[:5]},
    }
    for name, arrays in npz.items():
        np.savez(os.path.join(folder, name), **arrays)
    np.savez(
        os.path.join(folder, "object.npz"),
        x_train=np.array([x[0], None], dtype=object),
        y_train=y,
        x_test=x,
        y_test=y,
    )
    import gzip
    import pickle

    marker = os.path.join(folder, "PICKLE-RAN")
    with gzip.open(os.path.join(folder, "evil.pkl.gz"), "wb") as f:
        pickle.dump(_Marker(marker), f)
    with open(os.path.join(folder, "evil.npy"), "wb") as f:
        pickle.dump(_Marker(marker), f)
    os.makedirs(os.path.join(folder, "dir.png"))
    os.makedirs(os.path.join(folder, "dir.md"))
    os.makedirs(os.path.join(folder, "empty-dir"))
    os.symlink("dangling-target.png", os.path.join(folder, "dangling.png"))
    os.symlink("loop.png", os.path.join(folder, "loop.png"))
    os.makedirs(os.path.join(folder, "venv-without-python", "bin"))


def _runs(folder: str, run: str) -> None:
    """Broken copies of the run directory ``run`` in ``folder``."""
    with open(os.path.join(run, "model.json")) as f:
        config = json.load(f)
    weights = os.path.join(run, "model.weights.h5")

    def copy(name: str, *, model_json=None, raw: bytes | None = None, weights_bytes=None):
        path = os.path.join(folder, name)
        os.makedirs(path)
        target = os.path.join(path, "model.json")
        if raw is not None:
            with open(target, "wb") as f:
                f.write(raw)
        else:
            with open(target, "w") as f:
                json.dump(model_json if model_json is not None else config, f)
        if weights_bytes is None:
            shutil.copy(weights, os.path.join(path, "model.weights.h5"))
        elif weights_bytes is not False:
            with open(os.path.join(path, "model.weights.h5"), "wb") as f:
                f.write(weights_bytes)
        return path

    def with_metadata(**changes) -> dict:
        return {**config, "metadata": {**config["metadata"], **changes}}

    with open(weights, "rb") as f:
        weight_bytes = f.read()
    copy("empty-json", raw=b"")
    copy("garbage-json", raw=b"{not json at all")
    copy("binary-json", raw=b"\xff\xfe\x00garbage")
    copy("list-json", raw=b"[1, 2, 3]")
    copy("no-keras-model", model_json={"metadata": {}})
    copy("metadata-not-dict", model_json={**config, "metadata": [1, 2]})
    copy("deep-json", raw=b"[" * 100000 + b"]" * 100000)
    copy("no-weights", weights_bytes=False)
    copy("empty-weights", weights_bytes=b"")
    copy("garbage-weights", weights_bytes=b"not an HDF5 file" * 8)
    copy("truncated-weights", weights_bytes=weight_bytes[: len(weight_bytes) // 2])
    lam = json.loads(json.dumps(config))
    lam["keras_model"]["config"]["layers"].append(
        {
            "class_name": "Lambda",
            "name": "evil",
            "config": {"name": "evil", "function": {"module": "os", "config": "getcwd"}},
            "inbound_nodes": [],
        }
    )
    copy("lambda-layer", model_json=lam)
    empty_layers = json.loads(json.dumps(config))
    empty_layers["keras_model"]["config"]["layers"] = []
    copy("no-layers", model_json=empty_layers)
    copy("two-class-names", model_json=with_metadata(class_names=["zero", "one"]))
    copy("wrong-input-shape", model_json=with_metadata(input_shape=[8, 8, 1]))
    copy("unknown-dataset", model_json=with_metadata(dataset="cifar"))
    copy("pickle-data-dir", model_json=with_metadata(options={"data_dir": "EVIL"}))
    os.makedirs(os.path.join(folder, "json-is-dir", "model.json"))
    os.makedirs(os.path.join(folder, "no-model-json"))


def _fix_pickle_run(folder: str, files: str) -> None:
    path = os.path.join(folder, "pickle-data-dir", "model.json")
    with open(path) as f:
        config = json.load(f)
    config["metadata"]["options"]["data_dir"] = os.path.join(files, "evil.pkl.gz")
    with open(path, "w") as f:
        json.dump(config, f)


def build_world(base) -> World:
    """Writes the catalogue's runs and files under ``base/fuzz`` once (later calls reuse them).

    Uses :func:`qgcam_tf.testing.exports.tiny_run` (also under ``base``) for the model.
    """
    root = os.path.join(str(base), "fuzz")
    world = World(
        root=root,
        run=os.path.join(root, "run"),
        speech=os.path.join(root, "speech-run"),
        classical=os.path.join(root, "classical-run"),
        runs=os.path.join(root, "runs"),
        files=os.path.join(root, "files"),
    )
    done = os.path.join(root, "complete")
    if os.path.isfile(done):
        return world
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(world.runs)
    os.makedirs(world.files)
    _models(world)
    _files(world.files)
    _runs(world.runs, world.run)
    _fix_pickle_run(world.runs, world.files)
    open(done, "w").close()
    return world


def _models(world: World) -> None:
    """An untrained MNIST-shaped hybrid run (10 qubits, one layer, small convolutions), the
    same model recorded as a speech run and with NaN weights, and a classical twin."""
    import tf_keras as keras

    from qgcam_tf.model.hybrid import build_classical_twin, build_hybrid_model
    from qgcam_tf.model.run import save_model
    from qgcam_tf.quantum.circuits import VQCSpec

    keras.utils.set_random_seed(0)
    metadata = {"dataset": "mnist", "input_shape": list(INPUT_SHAPE), "class_names": CLASSES}
    model = build_hybrid_model(
        INPUT_SHAPE, 10, vqc=VQCSpec(10, 1, 10), backend="tf", conv_filters=(2, 4)
    )
    save_model(model, world.run, metadata=metadata)
    save_model(model, world.speech, metadata={"dataset": "speech", "input_shape": [28, 28, 1]})
    twin = build_classical_twin(INPUT_SHAPE, 10, conv_filters=(2, 4))
    save_model(twin, world.classical, metadata=metadata)
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    save_model(model, os.path.join(world.runs, "nan-weights"), metadata=metadata)


# --------------------------------------------------------------------------- per case
def prepare_case(case: CLICase, case_dir: str, world: World) -> None:
    """Puts what ``case.setup`` names into ``case_dir`` (see :class:`CLICase`)."""
    out = os.path.join(case_dir, "out")
    for item in case.setup:
        if item == "out_file":
            with open(out, "w") as f:
                f.write("a file the user keeps\n")
        elif item == "out_dir":
            os.makedirs(os.path.join(out, "keep"))
        elif item == "version":
            os.makedirs(os.path.join(out, "1"))
            with open(os.path.join(out, "1", "saved_model.pb"), "wb") as f:
                f.write(b"the first export")
        elif item == "locked":
            os.makedirs(os.path.join(case_dir, "locked"))
            os.chmod(os.path.join(case_dir, "locked"), 0o555)
        elif item == "secret":
            shutil.copy(os.path.join(world.files, "good.png"), os.path.join(case_dir, "secret.png"))
            os.chmod(os.path.join(case_dir, "secret.png"), 0)
            shutil.copytree(world.run, os.path.join(case_dir, "secret-run"))
            os.chmod(os.path.join(case_dir, "secret-run", "model.json"), 0)
        else:
            raise ValueError(f"unknown setup {item!r} of case {case.name!r}")


def snapshot(folder: str, *, content: bool = True) -> dict[str, tuple]:
    """Every path under ``folder`` with its kind, mode and content digest (``content``), or
    with its kind, mode, size, inode and modification time (not ``content``: a cheaper
    check, since a write or a replacement changes them, for a folder checked many times)."""
    import hashlib

    seen = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not content:
                seen[os.path.relpath(path, folder)] = (
                    st.st_mode,
                    st.st_size,
                    st.st_ino,
                    st.st_mtime_ns,
                )
                continue
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            seen[os.path.relpath(path, folder)] = (stat.S_IFMT(st.st_mode), st.st_mode, digest)
    return seen


# --------------------------------------------------------------------------- the catalogue
def _case(name, argv, message, **kw) -> CLICase:
    return CLICase(name, tuple(argv), message, **kw)


def _number_cases(command: str, base: tuple, option: str, bad: dict[str, str], **kw):
    """One case per bad text of ``option``: ``{text: message regex}``."""
    return [
        _case(
            f"{command}-{option[2:]}={text!r}",
            # argparse takes "-inf" for an option: such values go in as --option=-inf
            [command, *base, f"{option}={text}"]
            if text.startswith("-")
            else [command, *base, option, text],
            msg,
            **kw,
        )
        for text, msg in bad.items()
    ]


_INT = {
    "0": r"must be an int",
    "-1": r"must be an int",
    "1.5": r"must be an int",
    "x": r"must be an int",
    "": r"must be an int",
    "nan": r"must be an int",
    "inf": r"must be an int",
    "1e3": r"must be an int",
    "99999999999999999999": r"must be an int",
    "9" * 5000: r"must be an int",
    "0x10": r"must be an int",
}
_FLOAT = {
    "0": r"must be a finite number > 0",
    "-1": r"must be a finite number > 0",
    "nan": r"must be a finite number > 0",
    "inf": r"must be a finite number > 0",
    "-inf": r"must be a finite number > 0",
    "1e400": r"must be a finite number > 0",
    "x": r"must be a finite number > 0",
    "": r"must be a finite number > 0",
}
_SEED = {
    "x": r"must be an int",
    "1.5": r"must be an int",
    "": r"must be an int",
    "-1": r"must be an int in \[0, 4294967295\]",
    "4294967296": r"must be an int in \[0, 4294967295\]",
}
_IMAGE_FILES = {
    "empty.png": r"empty\.png",
    "truncated.png": r"truncated\.png",
    "garbage.png": r"garbage\.png",
    "text.png": r"text\.png",
    "empty.jpg": r"empty\.jpg",
    "truncated.jpg": r"truncated\.jpg",
    "garbage.jpg": r"garbage\.jpg",
    "empty.gif": r"empty\.gif",
    "garbage.gif": r"garbage\.gif",
    "garbage.bmp": r"garbage\.bmp",
    "ünïcödé 图像.png": r"ünïcödé 图像\.png",
    "with space.png": r"with space\.png",
    "good.wav": r"good\.wav",
    "empty.txt": r"empty\.txt",
}
_ARRAY_FILES = {
    "empty.npy": r"empty\.npy",
    "garbage.npy": r"garbage\.npy",
    "truncated.npy": r"truncated\.npy",
    "header-only.npy": r"header-only\.npy",
    "wrong-shape.npy": r"shape",
    "wrong-size.npy": r"shape",
    "rgb.npy": r"shape",
    "rank5.npy": r"shape",
    "scalar.npy": r"shape",
    "empty-batch.npy": r"empty-batch\.npy",
    "complex.npy": r"complex",
    "strings.npy": r"strings\.npy",
    "bool.npy": r"bool",
    "object.npy": r"object\.npy",
    "structured.npy": r"structured\.npy",
    "nan.npy": r"NaN",
    "inf.npy": r"NaN or infinite",
    "uint8-255.npy": r"\[0, 1\]",
    "float-255.npy": r"\[0, 1\]",
    "negative.npy": r"\[0, 1\]",
    "float32-max.npy": r"\[0, 1\]",
    "batch-one-nan.npy": r"NaN",
    "zip-named.npy": r"zip-named\.npy",
    "evil.npy": r"evil\.npy",
}
_AUDIO_FILES = {
    "empty.wav": r"empty\.wav",
    "garbage.wav": r"garbage\.wav",
    "truncated.wav": r"truncated\.wav",
    "header-only.wav": r"header-only\.wav",
    "huge-declared.wav": r"huge-declared\.wav",
    "nan.wav": r"nan\.wav",
    "zero-rate.wav": r"zero-rate\.wav",
    "text.wav": r"text\.wav",
    "empty.sph": r"empty\.sph",
    "garbage.sph": r"garbage\.sph",
    "truncated.sph": r"truncated\.sph",
    "header-only.sph": r"header-only\.sph",
    "huge-declared.sph": r"huge-declared\.sph",
    "garbage.flac": r"garbage\.flac",
    "good.png": r"good\.png",
}
_PATHS = {
    "missing.png": r"not found",
    "dir.png": r"a directory",
    "dangling.png": r"not found",
    "loop.png": r"not found",
    "new\nline.png": r"not found",
}
_NPZ_DATA = {
    "garbage.npz": r"garbage\.npz",
    "empty.npz": r"empty\.npz",
    "truncated.npz": r"truncated\.npz",
    "wrong-keys.npz": r"wrong-keys\.npz",
    "object.npz": r"object\.npz",
    "wrong-shape.npz": r"wrong-shape\.npz",
    "float-labels.npz": r"float-labels\.npz",
    "nan-images.npz": r"nan-images\.npz",
    "bad-labels.npz": r"bad-labels\.npz",
    "few-labels.npz": r"few-labels\.npz",
    "evil.pkl.gz": r"evil\.pkl\.gz",
    "empty-dir": r"empty-dir",
    "missing-dir": r"missing-dir",
    "good.png": r"good\.png",
}
_BROKEN_RUNS = {
    "empty-json": r"not valid JSON",
    "garbage-json": r"not valid JSON",
    "binary-json": r"not valid JSON",
    "list-json": r"not a model written by `qgcam train`",
    "no-keras-model": r"not a model written by `qgcam train`",
    "metadata-not-dict": r"not a model written by `qgcam train`",
    "deep-json": r"not valid JSON",
    "no-weights": r"holds no model\.weights\.h5",
    "json-is-dir": r"holds no model\.json",
    "no-model-json": r"holds no model\.json",
    "missing-run": r"does not exist",
}
_LOADED_RUNS = {  # broken only where the model or its metadata is read
    "empty-weights": r"weights",
    "garbage-weights": r"weights",
    "truncated-weights": r"weights",
    "lambda-layer": r"Lambda",
    "no-layers": r"no-layers",
    "unknown-dataset": r"cifar",
    "wrong-input-shape": r"shape",
}


def _cli_common() -> list[CLICase]:
    cases = [
        _case("qgcam-no-command", [], r"required: command"),
        _case("qgcam-unknown-command", ["nope"], r"invalid choice: 'nope'"),
        _case("qgcam-unknown-flag", ["--bogus"], r"unrecognized arguments|required: command"),
        _case("qgcam-debug-only", ["--debug"], r"required: command"),
        _case("qgcam-command-typo", ["trian", "--out", "{out}"], r"invalid choice: 'trian'"),
        _case("qgcam-uppercase-command", ["TRAIN"], r"invalid choice: 'TRAIN'"),
    ]
    base = {
        "train": ["--out", "{out}", *_TRAIN],
        "predict": ["--model", "{run}", "--images", "{files}/good.png"],
        "explain": ["--model", "{run}", "--out", "{out}", "--images", "{files}/good.png"],
        "export": ["--model", "{run}", "--out", "{out}"],
        "evaluate": ["--model", "{run}", "--out", "{out}", *_EVALUATE],
        "noise": ["--model", "{run}", "--out", "{out}", *_NOISE],
        "benchmark": ["--out", "{out}", "--quick"],
    }
    for command, args in base.items():
        cases += [
            _case(f"{command}-unknown-flag", [command, *args, "--frobnicate"], r"unrecognized"),
            _case(f"{command}-stray-positional", [command, "stray", *args], r"unrecognized"),
            _case(
                f"{command}-flag-without-value", [command, *args, "--out"], r"expected one argument"
            ),
        ]
    return cases


def _cli_train() -> list[CLICase]:
    out = ("--out", "{out}")
    cases = [
        _case("train-missing-out", ["train", *_TRAIN], r"required: --out"),
        _case("train-dataset-unknown", ["train", *out, "--dataset", "cifar"], r"invalid choice"),
        _case("train-dataset-case", ["train", *out, "--dataset", "MNIST"], r"invalid choice"),
        _case("train-backend-unknown", ["train", *out, "--backend", "cirq"], r"invalid choice"),
        _case("train-option-no-equals", ["train", *out, *_TRAIN, "--option", "x"], r"KEY=VALUE"),
        _case("train-option-empty-key", ["train", *out, *_TRAIN, "--option", "=5"], r"KEY=VALUE"),
        _case(
            "train-option-unknown",
            ["train", *out, *_TRAIN, "--option", "snr-db=5"],
            r"mnist has no option 'snr-db'",
        ),
        _case(
            "train-option-common",
            ["train", *out, *_TRAIN, "--option", "limit=5"],
            r"use --limit",
        ),
        _case(
            "train-out-is-file",
            ["train", *out, *_TRAIN],
            r"out",
            setup=("out_file",),
        ),
        _case(
            "train-out-under-file",
            ["train", "--out", "{files}/good.png/run", *_TRAIN],
            r"good\.png",
        ),
        _case("train-out-empty", ["train", "--out", "", *_TRAIN], r"out"),
    ]
    for name, msg in _NPZ_DATA.items():
        cases.append(
            _case(
                f"train-data-dir-{name}",
                ["train", *out, *_TRAIN, "--data-dir", "{files}/" + name],
                msg,
            )
        )
    for option in ("--epochs", "--limit", "--qubits", "--depth", "--batch-size"):
        bad = {k: v for k, v in _INT.items() if k not in ("99999999999999999999", "0x10")}
        cases += _number_cases("train", out, option, bad)
    cases += _number_cases(
        "train", out, "--learning-rate", {k: r"must be a (finite )?number" for k in _FLOAT}
    )
    cases += _number_cases("train", out, "--seed", {k: r"int" for k in ("x", "1.5", "")})
    multi = ("train", *out, *_TRAIN, "--distribute", "multi-worker")
    cluster = '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, '
    for name, value, msg in [
        ("unset", "", r"TF_CONFIG.*not set"),
        ("bad-json", "{cluster", r"TF_CONFIG is not valid JSON"),
        ("no-task", cluster[:-2] + "}", r"needs a 'task' object"),
        ("index-out-of-range", cluster + '"task": {"type": "worker", "index": 2}}', r"got 2"),
        ("task-type", cluster + '"task": {"type": "chief", "index": 0}}', r"'chief'"),
    ]:
        cases.append(_case(f"train-tf-config-{name}", multi, msg, env=(("TF_CONFIG", value),)))
    cases += [
        _case("train-distribute-unknown", ["train", *out, "--distribute", "ring"], "choice"),
        _case("train-distribute-case", ["train", *out, "--distribute", "Mirrored"], "choice"),
        _case(
            "train-worker-dir-alone",
            ["train", *out, *_TRAIN, "--worker-dir", "{case}/w"],
            r"--worker-dir is for --distribute multi-worker",
        ),
        # --backend tfq typed: MNIST's recipe trains on tf, where --xla is allowed
        _case(
            "train-xla-tfq",
            ["train", *out, *_TRAIN, "--backend", "tfq", "--xla"],
            r"--xla .*--backend tf",
        ),
    ]
    return cases


def _input_cases(command: str, base: tuple) -> list[CLICase]:
    cases = []
    files = {**_IMAGE_FILES, **_ARRAY_FILES}
    for name, msg in files.items():
        cases.append(
            _case(
                f"{command}-images-{name}",
                [command, *base, "--images", "{files}/" + name],
                msg,
            )
        )
    for name, msg in _PATHS.items():
        cases.append(
            _case(
                f"{command}-images-{name!r}",
                [command, *base, "--images", "{files}/" + name],
                msg,
            )
        )
    cases.append(
        _case(
            f"{command}-images-good-then-bad",
            [command, *base, "--images", "{files}/good.png", "{files}/nan.npy"],
            r"NaN",
        )
    )
    for name, msg in _AUDIO_FILES.items():
        cases.append(
            _case(
                f"{command}-speech-{name}",
                [command, *base, "--images", "{files}/" + name],
                msg,
            )
        )
    return cases


def _run_cases(command: str, argv: Callable[[str], list[str]]) -> list[CLICase]:
    cases = []
    for name, msg in _BROKEN_RUNS.items():
        cases.append(_case(f"{command}-run-{name}", argv("{runs}/" + name), msg))
    for name, msg in _LOADED_RUNS.items():
        cases.append(_case(f"{command}-run-{name}", argv("{runs}/" + name), msg))
    cases.append(
        _case(
            f"{command}-run-unreadable-json",
            argv("{case}/secret-run"),
            r"Permission denied",
            setup=("secret",),
            mode="unprivileged",
        )
    )
    return cases


def _fix_speech(cases: list[CLICase]) -> list[CLICase]:
    """The ``-speech-`` cases read their files with the speech run."""
    return [
        dataclasses.replace(c, argv=tuple("{speech}" if a == "{run}" else a for a in c.argv))
        if "-speech-" in c.name
        else c
        for c in cases
    ]


def _cli_predict() -> list[CLICase]:
    base = ("--model", "{run}")
    cases = _fix_speech(_input_cases("predict", base))
    full = ("--model", "{run}", "--images", "{files}/good.png")
    cases += [
        _case("predict-missing-model", ["predict", "--images", "{files}/good.png"], r"--model"),
        _case("predict-missing-images", ["predict", *base], r"--images"),
        _case("predict-images-no-value", ["predict", *base, "--images"], r"expected at least one"),
        _case(
            "predict-backend-unknown", ["predict", *full, "--backend", "cirq"], r"invalid choice"
        ),
        _case(
            "predict-out-is-dir", ["predict", *full, "--out", "{out}"], r"out", setup=("out_dir",)
        ),
        _case(
            "predict-out-missing-parent",
            ["predict", *full, "--out", "{case}/no/such/dir/p.csv"],
            r"no/such/dir",
        ),
        _case(
            "predict-out-under-file",
            ["predict", *full, "--out", "{files}/good.png/p.csv"],
            r"good\.png",
        ),
        _case(
            "predict-images-unreadable",
            ["predict", *base, "--images", "{case}/secret.png"],
            r"Permission denied",
            setup=("secret",),
            mode="unprivileged",
        ),
        _case(
            "predict-nan-weights",
            ["predict", "--model", "{runs}/nan-weights", "--images", "{files}/good.png"],
            r"NaN|finite",
        ),
        _case(
            "predict-two-class-names",
            ["predict", "--model", "{runs}/two-class-names", "--images", "{files}/good.npy"],
            r"class",
        ),
    ]
    cases += _number_cases("predict", full, "--batch-size", _INT)
    cases += _run_cases(
        "predict", lambda run: ["predict", "--model", run, "--images", "{files}/good.npy"]
    )
    return cases


def _cli_explain() -> list[CLICase]:
    base = ("--model", "{run}", "--out", "{out}")
    cases = _fix_speech(_input_cases("explain", base))
    full = (*base, "--images", "{files}/good.png")
    cases += [
        _case("explain-missing-out", ["explain", "--model", "{run}"], r"--out"),
        _case(
            "explain-images-and-dataset",
            ["explain", *full, "--dataset", "mnist"],
            r"not allowed with argument",
        ),
        _case(
            "explain-dataset-unknown", ["explain", *base, "--dataset", "cifar"], r"invalid choice"
        ),
        _case(
            "explain-dataset-mismatch",
            ["explain", *base, "--dataset", "speech", "--count", "1"],
            r"speech",
        ),
        _case(
            "explain-method-unknown", ["explain", *full, "--method", "gradcam"], r"invalid choice"
        ),
        _case(
            "explain-backend-unknown", ["explain", *full, "--backend", "cirq"], r"invalid choice"
        ),
        _case(
            "explain-class-index-10",
            ["explain", *full, "--class-index", "10"],
            r"class_index|class index",
        ),
        _case(
            "explain-class-index-huge",
            ["explain", *full, "--class-index", "99999999999"],
            r"class_index|class index",
        ),
        _case("explain-class-index--2", ["explain", *full, "--class-index", "-2"], r"class index"),
        _case("explain-class-index-x", ["explain", *full, "--class-index", "x"], r"class index"),
        _case("explain-out-is-file", ["explain", *full], r"out", setup=("out_file",)),
        _case(
            "explain-out-under-file",
            [
                "explain",
                "--model",
                "{run}",
                "--out",
                "{files}/good.png/o",
                "--images",
                "{files}/good.png",
            ],
            r"good\.png",
        ),
        _case(
            "explain-nan-weights",
            [
                "explain",
                "--model",
                "{runs}/nan-weights",
                "--out",
                "{out}",
                "--images",
                "{files}/good.png",
            ],
            r"NaN|finite",
        ),
        _case(
            "explain-count-beyond-test-split",
            ["explain", *base, "--count", "99999999"],
            r"count",
        ),
        _case(
            "explain-pickle-in-run-metadata",
            ["explain", "--model", "{runs}/pickle-data-dir", "--out", "{out}", "--count", "1"],
            r"evil\.pkl\.gz",
        ),
    ]
    for name, msg in _NPZ_DATA.items():
        cases.append(
            _case(
                f"explain-data-dir-{name}",
                ["explain", *base, "--count", "1", "--data-dir", "{files}/" + name],
                msg,
            )
        )
    cases += _number_cases(
        "explain", full, "--count", {k: v for k, v in _INT.items() if k != "0x10"}
    )
    cases += _number_cases("explain", full, "--seed", {k: r"int" for k in ("x", "1.5", "")})
    cases += _run_cases(
        "explain",
        lambda run: ["explain", "--model", run, "--out", "{out}", "--images", "{files}/good.npy"],
    )
    return cases


def _cli_export() -> list[CLICase]:
    base = ("--model", "{run}", "--out", "{out}")
    cases = [
        _case("export-missing-model", ["export", "--out", "{out}"], r"--model"),
        _case("export-missing-out", ["export", "--model", "{run}"], r"--out"),
        _case("export-method-random", ["export", *base, "--method", "random"], r"invalid choice"),
        _case("export-method-unknown", ["export", *base, "--method", "nope"], r"invalid choice"),
        _case(
            "export-version-exists", ["export", *base], r"exists; pass --force", setup=("version",)
        ),
        _case(
            "export-version-exists-3",
            ["export", *base, "--version", "1"],
            r"exists; pass --force",
            setup=("version",),
        ),
        _case("export-out-is-file", ["export", *base], r"out", setup=("out_file",)),
        _case(
            "export-out-under-file",
            ["export", "--model", "{run}", "--out", "{files}/good.png/export"],
            r"good\.png",
        ),
        _case(
            "export-nan-weights",
            ["export", "--model", "{runs}/nan-weights", "--out", "{out}"],
            r"NaN|finite",
        ),
    ]
    cases += _number_cases("export", base, "--version", _INT)
    cases += [  # export reads neither the dataset nor the recorded input shape
        c
        for c in _run_cases("export", lambda run: ["export", "--model", run, "--out", "{out}"])
        if not c.name.endswith(("unknown-dataset", "wrong-input-shape"))
    ]
    return cases


def _cli_explain_batch() -> list[CLICase]:
    """explain-batch: every case is refused before Beam or TensorFlow loads."""
    command = "explain-batch"
    base = ("--export", "{run}", "--input", "{files}/good.png", "--out", "{out}")

    def case(name, extra, message, argv=None, **kw):
        return _case(f"{command}-{name}", [command, *(argv or base), *extra], message, **kw)

    cases = [
        case(
            "missing-export",
            [],
            r"--export",
            argv=("--input", "{files}/good.png", "--out", "{out}"),
        ),
        case("missing-input", [], r"--input", argv=("--export", "{run}", "--out", "{out}")),
        case(
            "missing-out", [], r"--out", argv=("--export", "{run}", "--input", "{files}/good.png")
        ),
        case(
            "export-missing",
            [],
            r"--export '.*nope': no such directory",
            argv=("--export", "{case}/nope", "--input", "{files}/good.png", "--out", "{out}"),
        ),
        case("export-is-a-run", [], r"holds no SavedModel version"),
        case(
            "export-without-metadata",
            [],
            r"has no assets.extra/qgcam\.json",
            argv=("--export", "{out}", "--input", "{files}/good.png", "--out", "{case}/res"),
            setup=("version",),
        ),
        case(
            "input-matches-nothing",
            [],
            r"matches no file",
            argv=("--export", "{run}", "--input", "{files}/*.nothing", "--out", "{out}"),
        ),
        case(
            "input-a-folder",
            [],
            r"matches no file",
            argv=("--export", "{run}", "--input", "{files}", "--out", "{out}"),
        ),
        case(
            "input-empty",
            [],
            r"--input must be a glob pattern",
            argv=("--export", "{run}", "--input", "", "--out", "{out}"),
        ),
        case("out-exists", [], r"exists; pass --force", setup=("out_dir",)),
        case("out-is-a-file", ["--force"], r"not a directory", setup=("out_file",)),
        case(
            "out-under-a-file",
            [],
            r"good\.png",
            argv=(
                "--export",
                "{run}",
                "--input",
                "{files}/good.png",
                "--out",
                "{files}/good.png/o",
            ),
        ),
        case(
            "out-url",
            [],
            r"filesystem every worker mounts",
            argv=("--export", "{run}", "--input", "{files}/good.png", "--out", "gs://b/out"),
        ),
        case(
            "out-locked",
            [],
            r"cannot write",
            argv=("--export", "{run}", "--input", "{files}/good.png", "--out", "{case}/locked/o"),
            setup=("locked",),
            mode="unprivileged",
        ),
        case("runner-unknown", ["--runner", "Nope"], r"invalid choice"),
        case("runner-lowercase", ["--runner", "directrunner"], r"invalid choice"),
        case(
            "workers-with-flink",
            ["--runner", "FlinkRunner", "--direct-num-workers", "2"],
            r"DirectRunner option",
        ),
        case("stray-argument", ["b.png"], r"quote the --input glob"),
        case("run-not-a-run", ["--run", "{files}"], r"model\.json"),
        case("class-index=-2", ["--class-index=-2"], r"class index"),
        case("class-index=x", ["--class-index", "x"], r"class index"),
        case("direct-num-workers=257", ["--direct-num-workers", "257"], r"int in \[1, 256\]"),
        case("batch-size=4097", ["--batch-size", "4097"], r"int in \[1, 4096\]"),
    ]
    cases += _number_cases(command, base, "--batch-size", _INT)
    cases += _number_cases(command, base, "--direct-num-workers", _INT)
    return cases


def _cli_evaluate() -> list[CLICase]:
    base = ("--model", "{run}", "--out", "{out}", *_EVALUATE)
    cases = [
        _case("evaluate-missing-model", ["evaluate", "--out", "{out}"], r"--model"),
        _case("evaluate-missing-out", ["evaluate", "--model", "{run}"], r"--out"),
        _case(
            "evaluate-methods-unknown", ["evaluate", *base, "--methods", "gradcam"], r"choose from"
        ),
        _case("evaluate-methods-empty", ["evaluate", *base, "--methods", ","], r"choose from"),
        _case(
            "evaluate-metrics-unknown", ["evaluate", *base, "--metrics", "pointing"], r"choose from"
        ),
        _case(
            "evaluate-metrics-none-alone",
            ["evaluate", *base, "--metrics", "none"],
            r"--metrics none leaves nothing to do",
        ),
        _case(
            "evaluate-randomisation-unknown",
            ["evaluate", *base, "--randomisation", "vqc"],
            r"invalid choice",
        ),
        _case(
            "evaluate-randomisation-model-missing",
            ["evaluate", *base, "--randomisation-model", "{case}/no-such-run"],
            r"does not exist",
        ),
        _case(
            "evaluate-twin-methods-unknown",
            ["evaluate", *base, "--twin-methods", "qgradcam"],
            r"choose from",
        ),
        _case(
            "evaluate-backend-unknown", ["evaluate", *base, "--backend", "cirq"], r"invalid choice"
        ),
        _case("evaluate-count-huge", ["evaluate", *base, "--count", "10001"], r"\[1, 10000\]"),
        _case("evaluate-count-1e9", ["evaluate", *base, "--count", "1000000000"], r"\[1, 10000\]"),
        _case("evaluate-steps-huge", ["evaluate", *base, "--steps", "785"], r"\[1, 784\]"),
        _case("evaluate-batch-huge", ["evaluate", *base, "--batch-size", "4097"], r"\[1, 4096\]"),
        _case("evaluate-out-is-file", ["evaluate", *base], r"not a directory", setup=("out_file",)),
        _case(
            "evaluate-out-under-file",
            ["evaluate", "--model", "{run}", "--out", "{files}/good.png/o", *_EVALUATE],
            r"good\.png",
        ),
        _case(
            "evaluate-out-missing-parent",
            ["evaluate", "--model", "{run}", "--out", "{case}/no/such/o", *_EVALUATE],
            r"parent directory",
        ),
        _case(
            "evaluate-out-empty", ["evaluate", "--model", "{run}", "--out", "", *_EVALUATE], r"''"
        ),
        _case(
            "evaluate-out-locked",
            ["evaluate", "--model", "{run}", "--out", "{case}/locked/o", *_EVALUATE],
            r"cannot write in",
            setup=("locked",),
            mode="unprivileged",
        ),
        _case(
            "evaluate-out-locked-existing",
            ["evaluate", "--model", "{run}", "--out", "{case}/locked", *_EVALUATE],
            r"cannot write in",
            setup=("locked",),
            mode="unprivileged",
        ),
        _case(
            "evaluate-twin-is-hybrid",
            ["evaluate", *base, "--twin", "{run}"],
            r"not a classical twin",
        ),
        _case(
            "evaluate-twin-broken",
            ["evaluate", *base, "--twin", "{runs}/garbage-json"],
            r"not valid JSON",
        ),
        _case(
            "evaluate-classical-as-model",
            ["evaluate", "--model", "{classical}", "--out", "{out}", *_EVALUATE],
            r"classical|VQC|qgcam|layer",
        ),
    ]
    for name, msg in _NPZ_DATA.items():
        cases.append(
            _case(
                f"evaluate-data-dir-{name}",
                ["evaluate", *base, "--data-dir", "{files}/" + name],
                msg,
            )
        )
    for option in ("--count", "--steps", "--batch-size"):
        cases += _number_cases(
            "evaluate", base, option, {k: v for k, v in _INT.items() if k != "1e3"}
        )
    cases += _number_cases("evaluate", base, "--seed", _SEED)
    cases += _run_cases(
        "evaluate",
        lambda run: ["evaluate", "--model", run, "--out", "{out}", *_EVALUATE],
    )
    return cases


def _cli_noise() -> list[CLICase]:
    base = ("--model", "{run}", "--out", "{out}", *_NOISE)
    prob = r"must be a probability in \[0, 1\]"
    cases = [
        _case("noise-missing-model", ["noise", "--out", "{out}"], r"--model"),
        _case("noise-preset-unknown", ["noise", *base, "--preset", "sycamore"], r"invalid choice"),
        _case("noise-method-unknown", ["noise", *base, "--method", "exact"], r"invalid choice"),
        _case("noise-strengths-1.5", ["noise", *base, "--strengths", "0", "1.5"], prob),
        _case("noise-strengths-negative", ["noise", *base, "--strengths", "-0.1"], prob),
        _case("noise-strengths-nan", ["noise", *base, "--strengths", "nan"], prob),
        _case("noise-strengths-inf", ["noise", *base, "--strengths", "inf"], prob),
        _case("noise-strengths-x", ["noise", *base, "--strengths", "x"], prob),
        _case(
            "noise-strengths-too-many",
            ["noise", *base, "--strengths", *["0.01"] * 33],
            r"at most 32",
        ),
        _case("noise-scales-negative", ["noise", *base, "--scales", "-1"], r"must be a"),
        _case("noise-scales-nan", ["noise", *base, "--scales", "nan"], r"must be a"),
        _case("noise-scales-inf", ["noise", *base, "--scales", "inf"], r"must be a"),
        _case("noise-scales-huge", ["noise", *base, "--scales", "1e9"], r"\[0, 1000\]"),
        _case("noise-scales-too-many", ["noise", *base, "--scales", *["1"] * 33], r"at most 32"),
        _case("noise-shots-0", ["noise", *base, "--shots", "0"], r"--shots: must be an int in"),
        _case("noise-shots-huge", ["noise", *base, "--shots", "1000000000"], r"\[1, 1000000\]"),
        _case("noise-shots-1.5", ["noise", *base, "--shots", "1.5"], r"--shots"),
        _case("noise-shots-nonee", ["noise", *base, "--shots", "nonee"], r"--shots"),
        _case("noise-shots-too-many", ["noise", *base, "--shots", *["10"] * 33], r"at most 32"),
        _case("noise-count-huge", ["noise", *base, "--count", "10001"], r"\[1, 10000\]"),
        _case("noise-repeats-huge", ["noise", *base, "--repeats", "101"], r"\[1, 100\]"),
        _case(
            "noise-repetitions-1e9",
            ["noise", *base, "--repetitions", "1000000000"],
            r"\[1, 10000\]",
        ),
        _case(
            "noise-repetitions-1e9-float",
            ["noise", *base, "--repetitions", "1e9"],
            r"must be an int",
        ),
        _case("noise-out-is-file", ["noise", *base], r"not a directory", setup=("out_file",)),
        _case(
            "noise-out-under-file",
            ["noise", "--model", "{run}", "--out", "{files}/good.png/o", *_NOISE],
            r"good\.png",
        ),
        _case(
            "noise-out-locked",
            ["noise", "--model", "{run}", "--out", "{case}/locked/o", *_NOISE],
            r"cannot write in",
            setup=("locked",),
            mode="unprivileged",
        ),
        _case(
            "noise-classical-run",
            ["noise", "--model", "{classical}", "--out", "{out}", *_NOISE],
            r"needs a hybrid model .*not a quantum layer",
        ),
    ]
    for name, msg in _NPZ_DATA.items():
        if name in ("garbage.npz", "evil.pkl.gz", "wrong-keys.npz", "missing-dir", "object.npz"):
            cases.append(
                _case(
                    f"noise-data-dir-{name}", ["noise", *base, "--data-dir", "{files}/" + name], msg
                )
            )
    for option in ("--count", "--repeats", "--repetitions"):
        cases += _number_cases(
            "noise",
            base,
            option,
            {k: v for k, v in _INT.items() if k in ("0", "-1", "x", "nan", "9" * 5000)},
        )
    cases += _number_cases("noise", base, "--seed", _SEED)
    cases += _run_cases("noise", lambda run: ["noise", "--model", run, "--out", "{out}", *_NOISE])
    return cases


def _cli_benchmark() -> list[CLICase]:
    base = ("--out", "{out}", "--quick")
    qubits = r"comma-separated ints in \[2, 24\]"
    cases = [
        _case("benchmark-missing-out", ["benchmark", "--quick"], r"--out"),
        _case("benchmark-ns-1", ["benchmark", *base, "--ns", "1"], qubits),
        _case("benchmark-ns-25", ["benchmark", *base, "--ns", "4,25"], qubits),
        _case("benchmark-ns-0", ["benchmark", *base, "--ns", "0"], qubits),
        _case("benchmark-ns-x", ["benchmark", *base, "--ns", "x"], qubits),
        _case("benchmark-ns-empty", ["benchmark", *base, "--ns", ""], qubits),
        _case("benchmark-ns-gap", ["benchmark", *base, "--ns", "4,,8"], qubits),
        _case("benchmark-repeats-0", ["benchmark", *base, "--repeats", "0"], r"\[1, 1000\]"),
        _case(
            "benchmark-repeats-huge", ["benchmark", *base, "--repeats", "1000000"], r"\[1, 1000\]"
        ),
        _case("benchmark-repeats-x", ["benchmark", *base, "--repeats", "x"], r"\[1, 1000\]"),
        _case(
            "benchmark-update-doc-missing",
            ["benchmark", *base, "--update-doc", "{files}/missing.md"],
            r"missing\.md' not found",
        ),
        _case(
            "benchmark-update-doc-no-markers",
            ["benchmark", *base, "--update-doc", "{files}/doc-without-markers.md"],
            r"has no line",
        ),
        _case(
            "benchmark-update-doc-dir",
            ["benchmark", *base, "--update-doc", "{files}/dir.md"],
            r"dir\.md",
        ),
        _case(
            "benchmark-peers-venv-missing",
            ["benchmark", *base, "--peers-venv", "{files}/no-venv"],
            r"has no bin/python",
        ),
        _case(
            "benchmark-peers-venv-no-python",
            ["benchmark", *base, "--peers-venv", "{files}/venv-without-python"],
            r"has no bin/python",
        ),
        _case(
            "benchmark-out-is-file", ["benchmark", *base], r"not a directory", setup=("out_file",)
        ),
        _case(
            "benchmark-out-under-file",
            ["benchmark", "--out", "{files}/good.png/b", "--quick"],
            r"good\.png",
        ),
        _case(
            "benchmark-out-locked",
            ["benchmark", "--out", "{case}/locked/b", "--quick"],
            r"cannot write in",
            setup=("locked",),
            mode="unprivileged",
        ),
    ]
    return cases


def _cli_subprocess() -> list[CLICase]:
    """A few cases through the real entry point, ``python -m qgcam_tf``."""
    return [
        _case("subprocess-no-command", [], r"required: command", mode="subprocess"),
        _case(
            "subprocess-train-epochs-nan",
            ["train", "--out", "{out}", "--epochs", "nan"],
            r"--epochs: must be an int",
            mode="subprocess",
        ),
        _case(
            "subprocess-predict-missing-file",
            ["predict", "--model", "{run}", "--images", "{files}/missing.png"],
            r"not found",
            mode="subprocess",
        ),
        _case(
            "subprocess-noise-out-is-file",
            ["noise", "--model", "{run}", "--out", "{out}"],
            r"not a directory",
            setup=("out_file",),
            mode="subprocess",
        ),
        _case(
            "subprocess-predict-garbage-png",
            ["predict", "--model", "{run}", "--images", "{files}/garbage.png"],
            r"garbage\.png",
            mode="subprocess",
        ),
    ]


def cli_cases() -> list[CLICase]:
    """Every bad command line of the catalogue (names unique)."""
    cases = (
        _cli_common()
        + _cli_train()
        + _cli_predict()
        + _cli_explain()
        + _cli_export()
        + _cli_explain_batch()
        + _cli_evaluate()
        + _cli_noise()
        + _cli_benchmark()
        + _cli_subprocess()
    )
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate case names: {duplicates}")
    return [_known_failure(c) for c in cases]


# Cases that fail today because of code outside the CLI's own files:
# {name: (owner, what happens)}. The fuzz test turns each into a strict xfail; the owner's
# fix makes it pass, and then its entry goes.
KNOWN_FAILURES: dict[str, tuple[str, str]] = {}


def _known_failure(case: CLICase) -> CLICase:
    if case.name not in KNOWN_FAILURES:
        return case
    owner, reason = KNOWN_FAILURES[case.name]
    return dataclasses.replace(case, owner=owner, xfail_reason=reason)


# --------------------------------------------------------------------------- signatures
def _images(shape, value=0.5, dtype=np.float32):
    return lambda: np.full(shape, value, dtype=dtype)


def _spiked(value, dtype=np.float32):
    def make():
        images = np.full((2, 8, 8, 1), 0.5, dtype=dtype)
        images[1, 3, 3, 0] = value
        return images

    return make


_BAD_IMAGES = {
    "rank3": (_images((8, 8, 1)), False),
    "rank2": (_images((8, 8)), False),
    "rank5": (_images((1, 1, 8, 8, 1)), False),
    "scalar": (_images(()), False),
    "flat": (_images((1, 64)), False),
    "height9": (_images((1, 9, 8, 1)), False),
    "width7": (_images((1, 8, 7, 1)), False),
    "rgb": (_images((1, 8, 8, 3)), False),
    "channels-first": (_images((1, 1, 8, 8)), False),
    "nan": (_spiked(np.nan), False),
    "inf": (_spiked(np.inf), False),
    "-inf": (_spiked(-np.inf), False),
    "all-nan": (_images((1, 8, 8, 1), np.nan), False),
    "0..255": (_images((1, 8, 8, 1), 255.0), False),
    "1.5": (_spiked(1.5), False),
    "-1..0": (_images((1, 8, 8, 1), -0.5), False),
    "1e30": (_spiked(1e30), False),
    "float32-max": (_images((1, 8, 8, 1), np.finfo(np.float32).max), False),
    "float32-lowest": (_spiked(np.finfo(np.float32).min), False),
    "int32": (_images((1, 8, 8, 1), 0, np.int32), True),
    "uint8": (_images((1, 8, 8, 1), 128, np.uint8), True),
    "float64": (_images((1, 8, 8, 1), 0.5, np.float64), True),
    "float16": (_images((1, 8, 8, 1), 0.5, np.float16), True),
    "bool": (_images((1, 8, 8, 1), True, bool), True),
    "string": (lambda: np.full((1, 8, 8, 1), "0.5"), True),
}


def _class_index(values, dtype=np.int64):
    return lambda: np.asarray(values, dtype=dtype)


_BAD_CLASS_INDEX = {
    "n_classes": (_class_index([3, 0]), False),
    "-2": (_class_index([-2, 0]), False),
    "2**40": (_class_index([2**40, 0]), False),
    "int64-min": (_class_index([np.iinfo(np.int64).min, 0]), False),
    "too-few": (_class_index([0]), False),
    "too-many": (_class_index([0, 1, 2]), False),
    "rank2": (_class_index([[0], [1]]), False),
    "float": (_class_index([0.0, 1.0], np.float32), True),
    "int32": (_class_index([0, 1], np.int32), True),
    "string": (lambda: np.asarray(["0", "1"]), True),
}


def signature_cases() -> list[SignatureCase]:
    """Every bad request to the exported signatures (2-image batches where it matters)."""
    cases = []
    for signature in ("serving_default", "explain"):
        for name, (images, binding) in _BAD_IMAGES.items():
            cases.append(
                SignatureCase(f"sig-{signature}-images-{name}", signature, images, None, binding)
            )
    good = _images((2, 8, 8, 1))
    for name, (index, binding) in _BAD_CLASS_INDEX.items():
        cases.append(
            SignatureCase(f"sig-explain-class-index-{name}", "explain", good, index, binding)
        )
    return [_known_signature_failure(c) for c in cases]


SIGNATURE_KNOWN_FAILURES: dict[str, str] = {}


def _known_signature_failure(case: SignatureCase) -> SignatureCase:
    reason = SIGNATURE_KNOWN_FAILURES.get(case.name)
    return dataclasses.replace(case, xfail_reason=reason) if reason else case
