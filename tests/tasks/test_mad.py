"""The MAD synthetic tasks: what each task means, checked on generated data, through `tasks.get`."""

import math
import os
from pathlib import Path

import pytest
import torch

from manticore import tasks
from manticore.tasks import IGNORE_INDEX, mad
from manticore.tasks.seeded_rng import MAD_STREAMS, split_rng

ALL = [
    "mad/in-context-recall",
    "mad/fuzzy-in-context-recall",
    "mad/noisy-in-context-recall",
    "mad/selective-copying",
    "mad/memorization",
    "mad/compression",
]
SMALL = dict(num_train=16, num_test=32, use_cache=False)


def stacked(dataset):
    """input_ids (N, L), labels (N, L) of a dataset, read example by example."""
    examples = [dataset[i] for i in range(len(dataset))]
    return torch.stack([e["input_ids"] for e in examples]), torch.stack([e["labels"] for e in examples])


def splits(task):
    return {"train": stacked(task.train), "test": stacked(task.test)}


def test_names_include_all_six_tasks_and_mad_tasks_leave_out_compression():
    assert set(ALL) <= set(tasks.names())
    assert set(mad.MAD_TASKS) == set(ALL) - {"mad/compression"}


@pytest.mark.parametrize("preset", ["baseline", "manticore-hard"])
@pytest.mark.parametrize("name", ALL)
def test_examples_are_aligned_long_tensors_within_the_vocabulary(name, preset):
    task = tasks.get(name, preset=preset, **SMALL)
    assert task.kind == "lm" and len(task.train) == 16 and len(task.test) == 32
    for split in (task.train, task.test):
        example = split[0]
        assert set(example) >= {"input_ids", "labels"}
        assert example["input_ids"].dtype == example["labels"].dtype == torch.long
        assert example["input_ids"].shape == example["labels"].shape == (task.max_length,)
        ids, labels = stacked(split)
        assert 0 <= ids.min() and ids.max() < task.vocab_size
        scored = labels[labels != IGNORE_INDEX]
        assert scored.numel() > 0 and 0 <= scored.min() and scored.max() < task.vocab_size
    batch = task.collate([task.test[0], task.test[1]])
    assert batch["input_ids"].shape == batch["labels"].shape == (2, task.max_length)
    assert set(task.metadata["scored"]) == {"train", "test"}


# ---------------------------------------------------------------------------------------------------------
# What each task means
# ---------------------------------------------------------------------------------------------------------


def check_recall(ids, labels, split, num_key_ids, vocab_size, noise_ids=None):
    """Pairs (key, value) or two noise tokens; test labels at seen keys are their values."""
    for seq, lab in zip(ids.tolist(), labels.tolist()):
        bound, expected = {}, [IGNORE_INDEX] * len(seq)
        for i in range(0, len(seq), 2):
            key, value = seq[i], seq[i + 1]
            if noise_ids is not None and noise_ids[0] <= key < noise_ids[1]:
                assert noise_ids[0] <= value < noise_ids[1]  # a noise slot is noise throughout
                continue
            assert 0 <= key < num_key_ids <= value < vocab_size  # keys one half, values the other
            if key in bound:
                assert bound[key] == value  # one map per sequence
                expected[i] = value  # scored where the next token is a seen key's value
            bound[key] = value
        if split == "test":
            assert lab == expected
            assert any(label != IGNORE_INDEX for label in lab)  # the final query is always scored
        else:
            assert lab == seq[1:] + [IGNORE_INDEX]


@pytest.mark.parametrize("preset", ["baseline", "manticore-hard"])
def test_in_context_recall_scores_the_value_bound_earlier_to_a_repeated_key(preset):
    task = tasks.get("mad/in-context-recall", preset=preset, **SMALL)
    for split, (ids, labels) in splits(task).items():
        check_recall(ids, labels, split, task.vocab_size // 2, task.vocab_size)
    assert task.metadata["key_ids"] == [0, task.vocab_size // 2]


def test_in_context_recall_num_keys_limits_the_keys_of_each_sequence():
    task = tasks.get("mad/in-context-recall", preset="manticore-hard", num_keys=4, **SMALL)
    ids, labels = stacked(task.test)
    check_recall(ids, labels, "test", 64, 128)
    assert max(len(set(seq[0::2].tolist())) for seq in ids) <= 4
    assert len({tuple(sorted(set(seq[0::2].tolist()))) for seq in ids}) > 1  # the key set varies per sequence


@pytest.mark.parametrize("preset", ["baseline", "manticore-hard"])
def test_noisy_recall_noise_comes_from_the_noise_vocabulary_and_targets_stay_correct(preset):
    task = tasks.get("mad/noisy-in-context-recall", preset=preset, num_train=16, num_test=64, use_cache=False)
    settings = task.metadata["settings"]
    vocab, noise_vocab = settings["vocab_size"], settings["noise_vocab_size"]
    assert task.vocab_size == vocab + noise_vocab and task.metadata["noise_ids"] == [vocab, vocab + noise_vocab]
    for split, (ids, labels) in splits(task).items():
        check_recall(ids, labels, split, vocab // 2, vocab, noise_ids=(vocab, vocab + noise_vocab))
    ids, labels = stacked(task.test)
    noise_slots = (ids[:, 0::2] >= vocab).float().mean().item()
    assert abs(noise_slots - settings["frac_noise"]) < 0.08
    assert (labels[labels != IGNORE_INDEX] < vocab).all()  # noise is never a target at test time


def motif_pairs(seq, num_key_ids, pad):
    """Split a left-padded fuzzy-recall sequence into [(start, key motif, value motif)] by vocabulary halves."""
    start = next(i for i, t in enumerate(seq) if t != pad)
    assert all(t == pad for t in seq[:start]) and pad not in seq[start:]  # padding on the left only
    runs, i = [], start
    while i < len(seq):
        j, is_key = i, seq[i] < num_key_ids
        while j < len(seq) and (seq[j] < num_key_ids) == is_key:
            j += 1
        runs.append((i, is_key, tuple(seq[i:j])))
        i = j
    assert [is_key for _, is_key, _ in runs] == [True, False] * (len(runs) // 2)  # key, value, key, value ...
    return [(runs[a][0], runs[a][2], runs[a + 1][2]) for a in range(0, len(runs), 2)]


@pytest.mark.parametrize("preset", ["baseline", "manticore-hard"])
def test_fuzzy_recall_scores_value_motifs_of_seen_key_motifs_and_pads_on_the_left(preset):
    task = tasks.get("mad/fuzzy-in-context-recall", preset=preset, **SMALL)
    s = task.metadata["settings"]
    k, v, pad = s["k_motif_size"], s["v_motif_size"], task.vocab_size - 1
    num_key_ids = task.metadata["key_ids"][1]
    assert task.pad_token_id == pad and num_key_ids == (task.vocab_size - 1) // 2
    for split, (ids, labels) in splits(task).items():
        key_lengths = set()
        for seq, lab in zip(ids.tolist(), labels.tolist()):
            bound, expected = {}, [IGNORE_INDEX] * len(seq)
            for start, key, value in motif_pairs(seq, num_key_ids, pad):
                assert 1 <= len(key) <= k and 1 <= len(value) <= v
                assert len(set(key)) == len(key) and len(set(value)) == len(value)
                key_lengths.add(len(key))
                if key in bound:
                    assert bound[key] == value
                    for j, token in enumerate(value):  # each value token, predicted at the position before it
                        expected[start + len(key) + j - 1] = token
                bound[key] = value
            if split == "test":
                assert lab == expected and any(label != IGNORE_INDEX for label in lab)
            else:
                assert lab == [t if t != pad else IGNORE_INDEX for t in seq[1:]] + [IGNORE_INDEX]
        assert key_lengths == ({k} if split == "test" else set(range(1, k + 1)))  # test keys are full motifs
    assert (stacked(task.train)[0] == pad).any()  # some sequences are padded


@pytest.mark.parametrize("preset, n_copy", [("baseline", 16), ("manticore-hard", 96)])
def test_selective_copying_targets_are_the_non_blank_tokens_in_order(preset, n_copy):
    task = tasks.get("mad/selective-copying", preset=preset, **SMALL)
    blank, copy, length = task.vocab_size - 2, task.vocab_size - 1, task.max_length
    assert task.metadata["settings"]["num_tokens_to_copy"] == n_copy
    for ids, labels in splits(task).values():
        for seq, lab in zip(ids, labels):
            assert (seq == copy).nonzero().flatten().tolist() == [length - n_copy - 1]
            assert (seq[length - n_copy:] == blank).all()
            to_copy = seq[: length - n_copy - 1]
            to_copy = to_copy[to_copy != blank]
            assert len(to_copy) == n_copy
            assert lab[length - n_copy:].tolist() == to_copy.tolist()  # aligned: the j-th blank after copy
            assert (lab[: length - n_copy] == IGNORE_INDEX).all()


def test_selective_copying_honours_num_tokens_to_copy():
    task = tasks.get("mad/selective-copying", num_tokens_to_copy=5, seq_len=40, **SMALL)
    ids, labels = stacked(task.test)
    assert ((labels != IGNORE_INDEX).sum(1) == 5).all()
    assert ((ids[:, :34] != task.vocab_size - 2).sum(1) == 5).all()
    first_places = {tuple((seq[:34] != task.vocab_size - 2).nonzero().flatten().tolist()) for seq in ids}
    assert len(first_places) > 1  # the tokens sit at random places


def copying_gaps(ids, blank, n_copy):
    """(N, n_copy) blanks before each token to copy, and (N,) blanks after the last one, before the copy token."""
    length = ids.shape[1]
    region = ids[:, : length - n_copy - 1] != blank
    places = torch.stack([row.nonzero().flatten() for row in region])  # (N, n_copy)
    before = torch.diff(places, dim=1, prepend=torch.full((len(ids), 1), -1)) - 1
    return before, region.shape[1] - 1 - places[:, -1]


@pytest.mark.parametrize("preset, n_copy", [("baseline", 16), ("manticore-hard", 96)])
def test_selective_copying_spaces_the_tokens_as_mad_does(preset, n_copy):
    """MAD inserts each of the B = L - 2n - 1 blanks before a token drawn uniformly (np.insert at
    randint(0, n)): the gap before each token is Binomial(B, 1/n), and the last token meets the copy token."""
    task = tasks.get("mad/selective-copying", preset=preset, num_train=16, num_test=1_280, use_cache=False)
    length, blank = task.max_length, task.vocab_size - 2
    blanks = length - 2 * n_copy - 1
    assert task.metadata["num_blanks"] == blanks
    before, after = copying_gaps(stacked(task.test)[0], blank, n_copy)
    assert (after == 0).all() and (before.sum(1) == blanks).all()
    mean, var = blanks / n_copy, blanks * (1 / n_copy) * (1 - 1 / n_copy)
    standard_error = (var / len(before)) ** 0.5
    assert (before.double().mean(0) - mean).abs().max() < 6 * standard_error  # every gap, the first too
    assert before.double().var().item() == pytest.approx(var, rel=0.15)  # near-regular: binomial, not geometric
    assert len({tuple(row.tolist()) for row in before}) > 1  # the spacing is random


def test_selective_copying_spacing_follows_the_settings():
    task = tasks.get("mad/selective-copying", num_tokens_to_copy=3, seq_len=8, **SMALL)  # exactly one blank
    before, after = copying_gaps(stacked(task.test)[0], task.vocab_size - 2, 3)
    assert (after == 0).all() and (before.sum(1) == 1).all()
    assert set(before.argmax(1).tolist()) == {0, 1, 2}  # the blank goes before any of the tokens


def memorization_keys(task):
    """The distinct keys of the train and the test split."""
    return ({int(k) for k in stacked(getattr(task, split))[0][:, 0::2].flatten()} for split in ("train", "test"))


@pytest.mark.parametrize("preset, settings", [
    ("baseline", {}), ("manticore-hard", {}),  # the presets at their real sizes
    ("manticore-hard", dict(num_train=1)), ("manticore-hard", dict(num_train=3, seq_len=4, seed=7)),
    ("baseline", dict(vocab_size=3, num_train=2)), ("baseline", dict(vocab_size=1_024, num_train=20, seed=2)),
    ("baseline", dict(seq_len=2, num_train=5, num_test=300)),
])
def test_memorization_tests_only_facts_seen_in_training(preset, settings):
    task = tasks.get("mad/memorization", preset=preset, use_cache=False, **settings)
    train_keys, test_keys = memorization_keys(task)
    assert test_keys <= train_keys  # every test key was seen in training
    assert task.metadata["num_facts"] == len(train_keys)
    facts = mad.SETTINGS["mad/memorization"].from_preset(preset, **settings).facts()
    assert facts.tolist() == sorted(train_keys)
    if preset == "manticore-hard" and not settings:
        assert len(test_keys) > 0.95 * len(train_keys)  # the test asks about (nearly) every fact
        num_keys, draws = (task.vocab_size - 1) // 2, 256 * 16  # training keys are uniform over all keys, as MAD:
        assert len(train_keys) == pytest.approx(num_keys * (1 - math.exp(-draws / num_keys)), rel=0.03)  # ~64%


def memorized_map(task):
    """key -> value read off every (key, insert) pair of both splits; fails if a key has two values."""
    pairs = {}
    insert = task.metadata["insert_token_id"]
    for ids, labels in splits(task).values():
        assert (ids[:, 1::2] == insert).all() and (labels[:, 0::2] == IGNORE_INDEX).all()
        for key, value in zip(ids[:, 0::2].flatten().tolist(), labels[:, 1::2].flatten().tolist()):
            assert pairs.setdefault(key, value) == value
    return pairs


def test_memorization_uses_one_fixed_map_across_examples_and_splits():
    task = tasks.get("mad/memorization", num_train=64, num_test=64, use_cache=False)
    pairs = memorized_map(task)
    num_key_ids = (task.vocab_size - 1) // 2
    assert all(0 <= k < num_key_ids <= v < task.vocab_size - 1 for k, v in pairs.items())
    assert len(set(pairs.values())) == len(pairs)  # injective
    again = memorized_map(tasks.get("mad/memorization", num_train=8, num_test=200, use_cache=False))
    assert all(pairs[k] == v for k, v in again.items() if k in pairs)  # the map depends on the seed only
    other = memorized_map(tasks.get("mad/memorization", seed=1, num_train=64, num_test=64, use_cache=False))
    assert any(pairs[k] != v for k, v in other.items() if k in pairs)


def test_compression_labels_reconstruct_the_input():
    task = tasks.get("mad/compression", **SMALL)
    for ids, labels in splits(task).values():
        assert torch.equal(ids, labels)
        assert (ids[:, -1] == task.vocab_size - 1).all() and (ids[:, :-1] < task.vocab_size - 1).all()
    assert task.metadata["needs_encoder_decoder"]


# ---------------------------------------------------------------------------------------------------------
# Determinism, caching, presets, errors
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_generation_is_deterministic_in_the_seed_and_splits_use_separate_streams(name):
    first, again = splits(tasks.get(name, seed=3, **SMALL)), splits(tasks.get(name, seed=3, **SMALL))
    other = splits(tasks.get(name, seed=4, **SMALL))
    for split in ("train", "test"):
        assert all(torch.equal(a, b) for a, b in zip(first[split], again[split]))
        assert not torch.equal(first[split][0], other[split][0])
    assert not torch.equal(first["train"][0][:16], first["test"][0][:16])


@pytest.mark.parametrize("name", ALL)
def test_the_validation_split_is_drawn_and_scored_like_the_test_split_from_its_own_stream(name):
    task = tasks.get(name, seed=3, num_validation=32, **SMALL)
    validation, test = stacked(task.validation), stacked(task.test)
    assert validation[0].shape == test[0].shape == (32, task.max_length)
    scored = lambda labels: (labels != -100).sum(1)  # noqa: E731
    if name != "mad/memorization":  # memorization draws its keys from the few facts: repeats are expected
        assert not torch.equal(validation[0], test[0])
    assert set(task.metadata["settings"]) >= {"num_train", "num_validation", "num_test"}
    if name in ("mad/in-context-recall", "mad/noisy-in-context-recall", "mad/fuzzy-in-context-recall"):
        train_scored = scored(stacked(task.train)[1]).float().mean()
        assert scored(validation[1]).float().mean() < train_scored  # recall only, as in the test split
    # adding the validation split leaves the other two as they were: each comes from its own stream
    without = mad.SETTINGS[name].baseline(seed=3, num_train=16, num_test=32)
    rng = split_rng(3, "test", MAD_STREAMS)
    ids, labels = without.generate(rng, 32, "test")
    assert torch.equal(test[0], torch.from_numpy(ids)) and torch.equal(test[1], torch.from_numpy(labels))


def test_a_second_get_loads_from_the_cache(monkeypatch):
    settings = dict(preset="manticore-hard", seed=11, num_train=8, num_test=8)
    first = tasks.get("mad/in-context-recall", **settings)
    entries = list((Path(os.environ["MANTICORE_CACHE"]) / "tasks" / "mad__in-context-recall").glob("*.pt"))
    assert entries

    def fail(*args, **kwargs):
        raise AssertionError("generated again instead of loading from the cache")

    monkeypatch.setattr(mad, "_recall", fail)
    second = tasks.get("mad/in-context-recall", **settings)
    assert all(torch.equal(a, b) for a, b in zip(stacked(first.test), stacked(second.test)))
    with pytest.raises(AssertionError, match="generated again"):
        tasks.get("mad/in-context-recall", use_cache=False, **settings)


PRESET_SIZES = {  # name: {preset: (vocab_size of the Task, seq_len, num_train, num_test)}
    "mad/in-context-recall": {"baseline": (16, 128, 12_800, 1_280), "manticore-hard": (128, 128, 800, 1_280)},
    "mad/fuzzy-in-context-recall": {"baseline": (16, 128, 12_800, 1_280), "manticore-hard": (128, 128, 800, 1_280)},
    "mad/noisy-in-context-recall": {"baseline": (32, 128, 12_800, 1_280), "manticore-hard": (144, 128, 800, 1_280)},
    "mad/selective-copying": {"baseline": (16, 256, 12_800, 1_280), "manticore-hard": (128, 256, 800, 1_280)},
    "mad/memorization": {"baseline": (256, 32, 256, 1_280), "manticore-hard": (8192, 32, 256, 1_280)},
    "mad/compression": {"baseline": (16, 32, 12_800, 1_280), "manticore-hard": (16, 32, 12_800, 1_280)},
}


@pytest.mark.parametrize("preset", ["baseline", "manticore-hard"])
@pytest.mark.parametrize("name", ALL)
def test_presets_give_the_documented_sizes(name, preset):
    vocab, length, num_train, num_test = PRESET_SIZES[name][preset]
    task = tasks.get(name, preset=preset, num_train=2, num_test=2, use_cache=False)  # cheap: sizes overridden
    assert (task.vocab_size, task.max_length, task.metadata["preset"]) == (vocab, length, preset)
    settings = mad.SETTINGS[name].from_preset(preset)  # the preset itself, its sizes not overridden
    assert (settings.num_train, settings.num_test) == (num_train, num_test)


def test_hard_presets_set_the_papers_harder_settings():
    noisy = tasks.get("mad/noisy-in-context-recall", preset="manticore-hard", **SMALL).metadata["settings"]
    assert (noisy["vocab_size"], noisy["noise_vocab_size"], noisy["frac_noise"]) == (128, 16, 0.8)
    copying = tasks.get("mad/selective-copying", preset="manticore-hard", **SMALL).metadata["settings"]
    assert copying["num_tokens_to_copy"] == 96
    full = tasks.get("mad/in-context-recall", preset="manticore-hard", use_cache=False)  # the real sizes
    assert (len(full.train), len(full.test)) == (800, 1_280)


def test_explicit_settings_override_the_preset():
    task = tasks.get("mad/in-context-recall", preset="manticore-hard", vocab_size=32, seq_len=64, **SMALL)
    assert (task.vocab_size, task.max_length) == (32, 64)


@pytest.mark.parametrize("name, settings, match", [
    ("mad/in-context-recall", dict(preset="hard"), "preset='hard'"),
    ("mad/in-context-recall", dict(vocab_size=1), "vocab_size=1"),
    ("mad/in-context-recall", dict(seq_len=127), "seq_len=127"),
    ("mad/in-context-recall", dict(num_keys=9), "num_keys=9"),
    ("mad/in-context-recall", dict(num_train=0), "num_train=0"),
    ("mad/in-context-recall", dict(seed=-1), "seed=-1"),
    ("mad/noisy-in-context-recall", dict(frac_noise=1.5), "frac_noise=1.5"),
    ("mad/noisy-in-context-recall", dict(frac_noise=-0.1), "frac_noise=-0.1"),
    ("mad/noisy-in-context-recall", dict(noise_vocab_size=0), "noise_vocab_size=0"),
    ("mad/fuzzy-in-context-recall", dict(vocab_size=6), "vocab_size=6"),
    ("mad/fuzzy-in-context-recall", dict(seq_len=8), "seq_len=8"),
    ("mad/selective-copying", dict(num_tokens_to_copy=96, seq_len=193),
     "seq_len=193 is not valid in mad/selective-copying; accepted: an integer >= 194"),
    ("mad/selective-copying", dict(vocab_size=2), "vocab_size=2"),
    ("mad/memorization", dict(vocab_size=2), "vocab_size=2"),
    ("mad/compression", dict(seq_len=1), "seq_len=1"),
])
def test_bad_settings_raise_a_value_error_naming_the_setting(name, settings, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(")):
        tasks.get(name, use_cache=False, **settings)


@pytest.mark.parametrize("settings", [dict(seq_len=12.5), dict(num_train="8"), dict(frac_noise="0.2")])
def test_settings_of_the_wrong_type_raise_a_type_error(settings):
    with pytest.raises(TypeError, match=next(iter(settings))):
        tasks.get("mad/noisy-in-context-recall", use_cache=False, **settings)


def test_unknown_settings_are_rejected_by_the_registry():
    with pytest.raises(TypeError, match="frac_noise"):
        tasks.get("mad/in-context-recall", frac_noise=0.5)


# ---------------------------------------------------------------------------------------------------------
# The settings classes: presets as named constructors, validation naming the field
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["baseline", "manticore-hard"])
@pytest.mark.parametrize("name", ALL)
def test_a_presets_named_constructor_gives_the_same_task_as_get(name, preset):
    constructor = getattr(mad.SETTINGS[name], preset.replace("-", "_"))
    direct = constructor(seed=5, num_train=8, num_test=8).task(preset, use_cache=False)
    via_get = tasks.get(name, preset=preset, seed=5, num_train=8, num_test=8, use_cache=False)
    assert direct.metadata == via_get.metadata
    assert (direct.vocab_size, direct.max_length, direct.pad_token_id) == (
        via_get.vocab_size, via_get.max_length, via_get.pad_token_id)
    for a, b in zip(splits(direct).values(), splits(via_get).values()):
        assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_presets_are_the_defaults_with_the_papers_changes():
    assert mad.InContextRecall.baseline() == mad.InContextRecall()
    assert mad.InContextRecall.manticore_hard() == mad.InContextRecall(vocab_size=128, num_train=800)
    assert mad.NoisyInContextRecall.manticore_hard(seed=3) == mad.NoisyInContextRecall(
        vocab_size=128, frac_noise=0.8, num_train=800, seed=3)
    assert mad.Memorization.manticore_hard().vocab_size == 8192
    assert mad.Compression.manticore_hard() == mad.Compression.baseline()
    assert mad.SelectiveCopying.from_preset("manticore-hard", num_tokens_to_copy=4).num_tokens_to_copy == 4


def test_settings_record_every_field_so_equal_settings_share_a_cache_entry(monkeypatch):
    task = tasks.get("mad/noisy-in-context-recall", preset="manticore-hard", seed=12, num_train=4, num_test=4)
    assert task.metadata["settings"] == dict(seed=12, num_train=4, num_validation=256, num_test=4, vocab_size=128, seq_len=128,
                                             num_keys=None, frac_noise=0.8, noise_vocab_size=16)

    def fail(*args, **kwargs):
        raise AssertionError("generated again instead of loading from the cache")

    monkeypatch.setattr(mad, "_recall", fail)
    same = mad.NoisyInContextRecall(vocab_size=128, frac_noise=0.8, seed=12, num_train=4, num_test=4).task()
    assert torch.equal(same.test.input_ids, task.test.input_ids)


def test_a_setting_given_as_none_keeps_the_presets_value():
    task = tasks.get("mad/in-context-recall", preset="manticore-hard", vocab_size=None, num_keys=None, **SMALL)
    assert task.vocab_size == 128 and task.metadata["settings"]["num_keys"] is None


@pytest.mark.parametrize("make, match", [
    (lambda: mad.InContextRecall(num_keys=9), r"num_keys=9 is not valid in mad/in-context-recall; accepted: an "
                                              r"integer in \[1, 8\] \(the key ids of vocab_size=16\), or null"),
    (lambda: mad.InContextRecall(seq_len=7), r"seq_len=7 is not valid in mad/in-context-recall; accepted: an even "
                                             r"integer >= 4 \(the sequence is key, value pairs\)"),
    (lambda: mad.NoisyInContextRecall(frac_noise=1.0), r"frac_noise=1.0 is not valid in mad/noisy-in-context-recall; "
                                                       r"accepted: a number in \[0, 1\)"),
    (lambda: mad.NoisyInContextRecall(noise_vocab_size=2.0), "noise_vocab_size=2.0 is not valid in "
                                                             "mad/noisy-in-context-recall; accepted: an integer >= 1"),
    (lambda: mad.FuzzyInContextRecall(k_motif_size=0), "k_motif_size=0 is not valid in mad/fuzzy-in-context-recall; "
                                                       "accepted: an integer >= 1"),
    (lambda: mad.Memorization(num_test=0), "num_test=0 is not valid in mad/memorization; accepted: an integer >= 1"),
    (lambda: mad.Compression.from_preset("hard"), "preset='hard' is not valid in mad/compression; accepted: "
                                                  "'baseline' or 'manticore-hard'"),
])
def test_constructing_bad_settings_names_the_field_and_what_is_accepted(make, match):
    """Every check raises `manticore.checks`' ValueError (never a TypeError), in its one wording."""
    with pytest.raises(ValueError, match=match) as error:
        make()
    assert not isinstance(error.value, TypeError)


def test_the_registry_lists_every_setting_of_a_task():
    with pytest.raises(TypeError, match="accepted: preset, seed, num_train, num_validation, num_test, vocab_size, seq_len, "
                                        "num_keys, frac_noise, noise_vocab_size, use_cache"):
        tasks.get("mad/noisy-in-context-recall", k_motif_size=2)
