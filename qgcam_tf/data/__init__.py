"""Datasets: MNIST (embedded default), Dogs vs Cats photos, speech in noise."""

# Options each built-in dataset's loader reads beyond the common ones (data_dir, limit,
# seed, batch_size, validation_fraction): `qgcam train --option KEY=VALUE`, with KEY spelt
# with - or _.
# tests/data/registry_test.py checks that the loaders read exactly these.
DATASET_OPTIONS = {
    "mnist": {},
    "dogs-vs-cats": {
        "image_size": "side of the square RGB input in pixels (default 64)",
        "augment": "comma list of flip, crop, brightness, or none (default flip)",
        "conv_filters": "comma list of conv block widths (default 16,32,64,128)",
        "padding": "how the conv blocks pad: zero or reflect (default reflect)",
        "dropout": "Dropout rate on the pooled features before the encoding (default 0: none)",
        "test_dir": "a labelled test folder (default: train/'s test/ sibling or a held-out part)",
        "test_fraction": "share of photos held out when there is no test folder (default 0.1)",
    },
    "speech": {
        "noise_dir": "folder of background-noise recordings (needed for noise=recorded)",
        "noise": "comma list of recorded, white, pink, brown",
        "test_noise": "noise kinds of the test clips (default: those of noise)",
        "snr_db": "SNR of the noisy clips in dB, a number or LOW:HIGH (default 5)",
        "labels": "binary (clean/noisy) or type (clean + one class per noise kind)",
        "duration_s": "clip length in seconds (default 1.0)",
        "fmax": "top of the mel filterbank in Hz (default 7600)",
        "test_fraction": "share of clips held out outside the TIMIT layout (default 0.2)",
    },
}
COMMON_OPTIONS = ("data_dir", "limit", "seed", "batch_size", "validation_fraction")

# The built-in datasets by name, known without importing TensorFlow (the CLI offers them
# as choices before anything loads); the registry must hold exactly these
# (tests/data/registry_test.py).
BUILTIN_DATASETS = tuple(sorted(DATASET_OPTIONS))
