"""The byte tokenizer, the Hugging Face adapter (on a tiny tokenizer saved locally) and get_tokenizer."""

import pytest
import torch

from manticore.tasks.tokenizers import ByteTokenizer, HFTokenizer, get_tokenizer, id_dtype
from conftest import save_word_tokenizer

LINES = ["the cat sat on the mat", "the dog ran to the cat", "a cat and a dog"]



def test_byte_ids_are_bytes_and_specials_follow():
    tok = ByteTokenizer()
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id, tok.vocab_size) == (256, 257, 258, 259)
    assert tok.encode("Ab\n") == [65, 98, 10]
    assert tok.encode("é") == [0xC3, 0xA9]  # UTF-8, two bytes
    assert tok.decode(tok.encode("héllo, wörld")) == "héllo, wörld"


def test_byte_decode_drops_specials_and_replaces_invalid_utf8():
    tok = ByteTokenizer()
    assert tok.decode([257, 104, 105, 258, 256]) == "hi"
    assert tok.decode(torch.tensor([0xC3, 104])) == "\ufffdh"
    assert tok(["a", "bc"]) == [[97], [98, 99]] and tok("a") == [97]


def test_hf_adapter_on_a_local_word_level_tokenizer(tmp_path):
    tok = get_tokenizer(str(save_word_tokenizer(tmp_path / "tok", LINES)))
    assert isinstance(tok, HFTokenizer)
    specials = ["[PAD]", "[UNK]", "[EOS]"]
    vocab = {w for line in LINES for w in line.split()}
    assert tok.vocab_size == len(vocab) + len(specials)
    assert (tok.pad_token_id, tok.eos_token_id) == (0, 2)
    ids = tok.encode("the cat zebra")
    assert ids[-1] == 1 and len(ids) == 3  # zebra is unknown; no specials added
    assert tok.decode(tok.encode("the dog sat")) == "the dog sat"
    assert tok.encode_batch(["the cat", "dog"]) == [tok.encode("the cat"), tok.encode("dog")]
    assert tok.decode([2] + tok.encode("a mat")) == "a mat"  # specials skipped


def test_hf_fingerprint_changes_with_the_files(tmp_path):
    folder = save_word_tokenizer(tmp_path / "tok", LINES)
    before = get_tokenizer(str(folder)).fingerprint
    assert get_tokenizer(str(folder)).fingerprint == before
    save_word_tokenizer(folder, LINES + ["an owl flew"])
    assert get_tokenizer(str(folder)).fingerprint != before


def test_get_tokenizer_accepts_byte_and_instances_and_explains_failures(tmp_path):
    tok = ByteTokenizer()
    assert isinstance(get_tokenizer("byte"), ByteTokenizer) and get_tokenizer(tok) is tok
    with pytest.raises(ValueError, match="'byte'.*save_pretrained"):
        get_tokenizer(str(tmp_path / "no-such-tokenizer"))
    with pytest.raises(TypeError, match="tokenizer must be"):
        get_tokenizer(3)


def test_id_dtype_holds_the_vocab_and_ignore_index():
    assert id_dtype(259) == torch.int16 and id_dtype(50_257) == torch.int32


TEXTS = ["Hello, world!", "  two leading spaces\n\ttab and newline", "héllo → 世界 🙂", "", "\x00\x7f\x80 control"]


@pytest.mark.parametrize("text", TEXTS)
def test_the_hugging_face_byte_tokenizer_gives_the_same_ids(text):
    hf = ByteTokenizer().hf_tokenizer()
    ids = hf(text)["input_ids"]  # no special token added, as ByteTokenizer.encode
    assert ids == ByteTokenizer().encode(text)
    assert hf.decode(ids) == text


def test_the_hugging_face_byte_tokenizer_saves_and_reloads_with_its_specials(tmp_path):
    from transformers import AutoTokenizer

    ByteTokenizer().hf_tokenizer().save_pretrained(tmp_path)
    hf = AutoTokenizer.from_pretrained(tmp_path)
    byte = ByteTokenizer()
    assert (hf.pad_token_id, hf.bos_token_id, hf.eos_token_id, len(hf)) == (
        byte.pad_token_id, byte.bos_token_id, byte.eos_token_id, byte.vocab_size)
    assert hf.decode([72, 256, 105, 258], skip_special_tokens=True) == byte.decode([72, 256, 105, 258]) == "Hi"
    batch = hf(["ab", "abcd"], padding=True, return_tensors="pt")
    assert batch["input_ids"].tolist() == [[97, 98, 256, 256], [97, 98, 99, 100]]
