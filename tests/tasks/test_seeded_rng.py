"""Split streams: their fixed numbering, and the data every generated task draws from them, pinned."""

import hashlib

import numpy as np
import pytest

from manticore import tasks
from manticore.tasks.seeded_rng import LRA_STREAMS, MAD_STREAMS, split_rng


def test_each_family_keeps_its_stream_numbers():
    assert dict(MAD_STREAMS) == {"train": 0, "test": 1, "map": 2, "validation": 3}  # new streams go last
    assert dict(LRA_STREAMS) == {"train": 0, "validation": 1, "test": 2}


@pytest.mark.parametrize("streams", [MAD_STREAMS, LRA_STREAMS])
def test_split_rng_is_the_generator_seeded_by_seed_and_stream_number(streams):
    for stream, number in streams.items():
        expected = np.random.default_rng([7, number]).integers(0, 2**31, 8)
        assert np.array_equal(split_rng(7, stream, streams).integers(0, 2**31, 8), expected)


def test_stream_tables_are_read_only_and_unknown_streams_are_named():
    with pytest.raises(TypeError):
        MAD_STREAMS["extra"] = 4
    with pytest.raises(ValueError, match=r"'valid'; accepted: 'train', 'test', 'map', 'validation'"):
        split_rng(0, "valid", MAD_STREAMS)


def digest(task, validation: bool = True) -> str:
    """A short hash of every example's input_ids and labels, split by split (validation: with that split)."""
    h = hashlib.sha256()
    for split in (task.train, task.validation if validation else None, task.test):
        for i in range(len(split) if split is not None else 0):
            h.update(split[i]["input_ids"].numpy().tobytes())
            h.update(split[i]["labels"].numpy().tobytes())
    return h.hexdigest()[:16]


# Recorded from the generators before the split streams and MAD settings moved (mad.py's PRESETS dicts and
# per-module stream tables). A changed value means the same settings now give other data: if that is on
# purpose, bump cache.CACHE_VERSION so cached datasets are rebuilt, and record the new value.
SMALL_MAD = dict(seed=1, num_train=4, num_test=4)
PINNED = [
    ("mad/in-context-recall", dict(preset="baseline", **SMALL_MAD), "efa540afab6b94bc"),
    ("mad/in-context-recall", dict(preset="manticore-hard", **SMALL_MAD), "b3e03816c9afce17"),
    ("mad/fuzzy-in-context-recall", dict(preset="baseline", **SMALL_MAD), "c985dd8ce3c39f10"),
    ("mad/fuzzy-in-context-recall", dict(preset="manticore-hard", **SMALL_MAD), "e30359fa01ebcedd"),
    ("mad/noisy-in-context-recall", dict(preset="baseline", **SMALL_MAD), "6112a77fa5dfb048"),
    ("mad/noisy-in-context-recall", dict(preset="manticore-hard", **SMALL_MAD), "673660898c322979"),
    ("mad/selective-copying", dict(preset="baseline", **SMALL_MAD), "5ccaf5e79f2c559f"),
    ("mad/selective-copying", dict(preset="manticore-hard", **SMALL_MAD), "61cff796430d0207"),
    ("mad/memorization", dict(preset="baseline", **SMALL_MAD), "aa28c561b06e57cb"),
    ("mad/memorization", dict(preset="manticore-hard", **SMALL_MAD), "e36b762a7156971a"),
    ("mad/compression", dict(preset="baseline", **SMALL_MAD), "e3c8d4e56144d19d"),
    ("mad/in-context-recall", dict(seed=2, num_train=4, num_test=4, num_keys=4, vocab_size=32, seq_len=32),
     "1ff1515dbc6c0f11"),
    ("mad/noisy-in-context-recall", dict(seed=2, num_train=4, num_test=4, frac_noise=0.5, seq_len=32),
     "c11bce80a6817cbf"),
    ("mad/fuzzy-in-context-recall", dict(seed=2, num_train=4, num_test=4, k_motif_size=2, v_motif_size=1,
                                         seq_len=32), "1ed794e22a44c37f"),
    ("mad/selective-copying", dict(seed=2, num_train=4, num_test=4, num_tokens_to_copy=5, seq_len=40),
     "86ffe5752ee504f8"),
    ("lra/listops", dict(seed=3, num_train=8, num_test=4, num_validation=4, min_length=20, max_length=200),
     "ab7f2c3a69cef649"),
    ("lra/pathfinder", dict(seed=3, num_train=4, num_test=2, num_validation=2), "99f4653c9c9e599d"),
]


@pytest.mark.parametrize("name, settings, expected", PINNED, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(PINNED)])
def test_generated_data_are_unchanged_for_the_same_settings_and_seed(name, settings, expected):
    # MAD's validation split came later, from a stream of its own: train and test are pinned as they were
    assert digest(tasks.get(name, use_cache=False, **settings), validation=name.startswith("lra/")) == expected
