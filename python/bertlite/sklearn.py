"""bertlite.FeatureExtractor: sentences -> BERT features, as a scikit-learn transformer.

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    import bertlite

    model = Pipeline([("bert", bertlite.FeatureExtractor("all-MiniLM-L6-v2")),
                      ("clf", LogisticRegression())])
    model.fit(train_sentences, train_labels)
    model.score(test_sentences, test_labels)

The walkthrough's "run the encoder and keep a row per sentence" step: `transform` calls
`Encoder.embed`, so its rows equal `bertlite embed`'s. It learns nothing: `fit` only checks its
input and returns self, and the estimator is stateless. The encoder is loaded on first use and
kept; pickling keeps only the parameters (the model's name or folder, not its weights), so a
pickled pipeline is small and loads the model again where it is unpickled.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Optional

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ._core import Encoder, default_model


def _texts(X: Any) -> list:
    """The sentences of X: a list or tuple of str, a 1-D array or pandas Series of str, or a
    one-column 2-D array or DataFrame (what a ColumnTransformer passes)."""
    if isinstance(X, str):
        raise TypeError("X must be a sequence of str, not a single str: wrap it in a list")
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # DataFrame
        if X.shape[1] != 1:
            raise ValueError(f"X has {X.shape[1]} columns; FeatureExtractor reads one text column")
        X = X.iloc[:, 0]
    if isinstance(X, np.ndarray) and X.ndim == 2:
        if X.shape[1] != 1:
            raise ValueError(f"X has {X.shape[1]} columns; FeatureExtractor reads one text column")
        X = X[:, 0]
    texts = X.tolist() if hasattr(X, "tolist") else list(X)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"X[{i}] is {type(text).__name__}, not str")
    return texts


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """Turns each sentence into the encoder's pooled feature vector (float32 [n, hidden]).

    Parameters
    ----------
    model : str
        A model folder, or a name looked up as `bertlite.resolve_model` does
        (default: the project's default model, all-MiniLM-L6-v2).
    pooling : {"cls", "mean", "pooler"} or None
        None: the model folder's own (sentence-transformers folders name one), else "cls".
    normalize : bool or None
        L2-normalize each row; None: as the model folder says.
    max_length : int or None
        Longest input in tokens, special tokens included; None: the model's positions.
    long_text : {"truncate", "window", "error"}
        What an input longer than max_length gets: its first max_length tokens, overlapping
        windows whose features are averaged, or a ValueError.
    batch_tokens : int
        Real tokens per forward pass.
    precision : {"fp32", "bf16", "int8"} or None
        The GEMMs' number format; None: the folder's own (fp32 unless `bertlite quantize`
        wrote it).
    """

    def __init__(
        self,
        model: str = default_model,
        *,
        pooling: Optional[str] = None,
        normalize: Optional[bool] = None,
        max_length: Optional[int] = None,
        long_text: str = "truncate",
        batch_tokens: int = 4096,
        precision: Optional[str] = None,
    ) -> None:
        self.model = model
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = max_length
        self.long_text = long_text
        self.batch_tokens = batch_tokens
        self.precision = precision

    # ---- scikit-learn protocol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Input is text, one sentence per row, not a numeric matrix.
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        # Nothing is learned: transform works without fit.
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X: Iterable[str], y: Any = None) -> "FeatureExtractor":
        """Checks X and loads the encoder; learns nothing. Returns self."""
        _texts(X)
        self.encoder()
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        """Features of every sentence in X, in order: float32 [len(X), hidden]."""
        return self.encoder().embed(
            _texts(X),
            pooling=self.pooling,
            normalize=self.normalize,
            max_length=self.max_length,
            long_text=self.long_text,
            batch_tokens=self.batch_tokens,
            precision=self.precision,
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """"bert0", "bert1", ...: one name per feature column."""
        return np.asarray([f"bert{i}" for i in range(self.encoder().hidden_size)], dtype=object)

    # ---- the encoder, loaded once per (model, precision)

    def encoder(self) -> Encoder:
        """The loaded `bertlite.Encoder` (loaded on first use; reloaded if `model` changed)."""
        lock = self.__dict__.setdefault("_lock", threading.Lock())
        with lock:
            cached = self.__dict__.get("_encoder")
            if cached is None or cached[0] != self.model:
                cached = (self.model, Encoder.from_pretrained(self.model))
                self.__dict__["_encoder"] = cached
            return cached[1]

    def __getstate__(self) -> dict:
        # The parameters only: the weights are loaded again by name where it is unpickled.
        state = super().__getstate__()
        state.pop("_encoder", None)
        state.pop("_lock", None)
        return state
