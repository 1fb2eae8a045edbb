"""bertlite: BERT-family encoders on the CPU, from Hugging Face folders, without PyTorch.

    import bertlite
    encoder = bertlite.Encoder.from_pretrained("all-MiniLM-L6-v2")
    features = encoder.embed(["a visually stunning rumination on love"])   # float32 [1, 384]

    tokenizer = bertlite.Tokenizer.from_pretrained("all-MiniLM-L6-v2")
    tokenizer.encode("a visually stunning rumination on love").ids
    # [101, 1037, 17453, 14726, 19379, 12758, 2006, 2293, 102]

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    model = Pipeline([("bert", bertlite.FeatureExtractor("all-MiniLM-L6-v2")),
                      ("clf", LogisticRegression())])

    clf = bertlite.Classifier.load("sst2.classifier.json")        # from `bertlite train`
    clf.predict_proba(encoder.embed(sentences, **clf.embed_options))
    bertlite.finetune("all-MiniLM-L6-v2", texts, labels, "tuned/")  # as `bertlite finetune`

The same C++ library as the `bertlite` command line: `Encoder.embed` returns what
`bertlite embed` writes. Tokenizing and encoding release the GIL, so Python threads embedding at
once run in parallel; `set_threads` sets how many cores each call uses (process-wide). Errors
are `bertlite.Error` subclasses carrying the library's message, which are also `ValueError`
(bad arguments, malformed files), `OSError` (files), `FileNotFoundError` (unknown model).

`FeatureExtractor` needs scikit-learn; everything else needs only numpy.
"""

import os as _os

# The library's OpenMP runtime (libgomp) spins ~300,000 iterations after every parallel region
# by default, which lets a waiting thread take the core its partner needs when another process
# holds the other core (measured 3x slower at batch 1). The CLI re-executes itself with a lower
# spin count (util::reexec_with_openmp_spin_limit); a module cannot, but libgomp reads the
# variable when it loads, which is when _core is imported below, unless the process already
# loaded it. The user's own choice wins.
if "GOMP_SPINCOUNT" not in _os.environ and "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "3000"

from ._core import (  # noqa: E402
    Classifier,
    Encoder,
    Encoding,
    Error,
    InvalidArgument,
    IoError,
    ModelNotFoundError,
    ParseError,
    Tokenizer,
    Unsupported,
    default_model,
    finetune,
    resolve_model,
    set_threads,
    threads,
)

__version__ = "0.1.0"

__all__ = [
    "Classifier",
    "Encoder",
    "Encoding",
    "Error",
    "FeatureExtractor",
    "InvalidArgument",
    "IoError",
    "ModelNotFoundError",
    "ParseError",
    "Tokenizer",
    "Unsupported",
    "default_model",
    "finetune",
    "resolve_model",
    "set_threads",
    "threads",
]


def __getattr__(name: str):
    # FeatureExtractor subclasses scikit-learn's BaseEstimator, so importing it imports
    # scikit-learn: done on first use, so `import bertlite` needs only numpy.
    if name == "FeatureExtractor":
        from .sklearn import FeatureExtractor

        return FeatureExtractor
    raise AttributeError(f"module 'bertlite' has no attribute {name!r}")
