"""qgcam_tf.quantum.shards: row blocks give back what one call gives, in order."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import tensorflow as tf

from qgcam_tf.quantum.shards import run_in_shards


def test_run_in_shards_keeps_row_order():
    """Rows come back in order, whatever the split; sizes differ by at most one."""
    values = tf.reshape(tf.range(22, dtype=tf.float32), [11, 2])
    seen = []

    def fn(part):
        seen.append(part.shape[0])
        return part * 2.0

    for shards in (1, 2, 4, 11, 16):
        np.testing.assert_array_equal(run_in_shards(fn, values, shards), values * 2.0)
    assert seen[1:3] == [6, 5] and seen[3:7] == [3, 3, 3, 2] and seen[7:18] == [1] * 11
    assert seen[18:] == [1] * 11  # 16 shards of 11 rows: no more calls than rows


def test_blocks_of_an_unknown_batch_may_be_empty():
    """Traced with batch None, 3 blocks of a 2-row batch (one empty) give one call's rows."""
    fn = tf.function(
        lambda v: run_in_shards(lambda part: part[:, ::-1] + 1.0, v, 3),
        input_signature=[tf.TensorSpec([None, 2])],
    )
    values = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    np.testing.assert_array_equal(fn(values), values[:, ::-1] + 1.0)
    assert fn(np.zeros((0, 2), np.float32)).shape == (0, 2)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, *sys.argv[1:]]))
