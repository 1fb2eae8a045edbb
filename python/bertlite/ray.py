"""bertlite.ray: embedding a dataset with Ray Data, one encoder per actor.

    import ray
    from bertlite.ray import embed_dataset, read_tsv, write_parquet

    ray.init(num_cpus=2)
    ds = read_tsv("data/sst2/train.tsv")                 # columns sentence, label
    ds = embed_dataset(ds, "all-MiniLM-L6-v2", actors=2, threads=1)
    write_parquet(ds, "out/sst2-train")                  # + column embedding: float32[384]

`embed_dataset` runs `Dataset.map_batches` over `Embedder`, a callable class: Ray Data starts
`actors` actors, each loads the encoder once (in its constructor) and embeds the batches it is
given with `threads` threads. Every actor asks Ray for `num_cpus=threads`, so Ray places no more
actors on a node than it has cores for and each actor owns its threads: `actors * threads`
should not exceed the CPUs given to Ray (`ray.init(num_cpus=...)`), or actors wait for a core.
The features are those of `bertlite.Encoder.embed` with the same arguments, row for row.

The readers and the writer here run their tasks with `num_cpus=0`: the actors hold every CPU
they reserved for as long as the dataset runs, so a read task that also asked for a CPU would
wait for one forever when `actors * threads` equals the CPUs Ray has (with `ray.data.read_csv`
and its defaults, 2 actors of 1 thread on `ray.init(num_cpus=2)` hang). Pass `num_cpus=0` to
your own `ray.data.read_*` calls too, or leave a CPU free.

Ray Data does not keep rows in order across actors unless asked
(`ray.data.DataContext.get_current().execution_options.preserve_order = True`): carry an id
column and sort by it if the order matters.

Ray is imported on first use, so `import bertlite` never needs it; this module needs
`ray[data]` (and pyarrow, which it brings).
"""

import os
from typing import Any, Dict, Iterable, Optional, Union

__all__ = ["Embedder", "embed_dataset", "read_parquet", "read_tsv", "write_parquet"]

PathLike = Union[str, os.PathLike, Iterable[str]]


def _paths(paths: Any) -> Any:
    if isinstance(paths, (str, os.PathLike)):
        return os.fspath(paths)
    return [os.fspath(p) for p in paths]


class Embedder:
    """The callable class `embed_dataset` maps over batches: one encoder per Ray actor.

    Built once per actor: loads `bertlite.Encoder.from_pretrained(model)` and sets
    `bertlite.set_threads(threads)` (process-wide, which is the actor's own process). Each call
    takes a pyarrow Table batch and returns it with one more column, `output_column`: the
    features of `text_column` as a fixed-size list of float32 (`pa.list_(pa.float32(), hidden)`),
    which Parquet stores as is and pandas, pyarrow, DuckDB and Spark read. `embed_options` are
    passed to `Encoder.embed` (pooling, normalize, max_length, long_text, batch_tokens,
    precision, ...).
    """

    def __init__(
        self,
        model: str = "all-MiniLM-L6-v2",
        text_column: str = "sentence",
        output_column: str = "embedding",
        threads: int = 1,
        embed_options: Optional[Dict[str, Any]] = None,
    ):
        import bertlite

        self.threads = bertlite.set_threads(threads)
        self.encoder = bertlite.Encoder.from_pretrained(model)
        self.text_column = text_column
        self.output_column = output_column
        self.embed_options = dict(embed_options or {})

    def __call__(self, batch):
        import pyarrow as pa

        if self.text_column not in batch.column_names:
            raise KeyError(
                f"bertlite.ray: no column {self.text_column!r} in the batch "
                f"(columns: {batch.column_names})")
        texts = batch.column(self.text_column).to_pylist()
        if any(t is None for t in texts):
            raise ValueError(f"bertlite.ray: column {self.text_column!r} holds nulls")
        features = self.encoder.embed(texts, **self.embed_options)  # float32 [rows, hidden]
        hidden = features.shape[1]
        column = pa.FixedSizeListArray.from_arrays(pa.array(features.reshape(-1)), hidden)
        if self.output_column in batch.column_names:
            batch = batch.drop_columns([self.output_column])
        return batch.append_column(self.output_column, column)


def embed_dataset(
    ds,
    model: str = "all-MiniLM-L6-v2",
    text_column: str = "sentence",
    output_column: str = "embedding",
    threads: int = 1,
    actors: Optional[Union[int, tuple]] = None,
    batch_size: Optional[int] = 256,
    pooling: Optional[str] = None,
    normalize: Optional[bool] = None,
    **embed_options: Any,
):
    """`ds` (a `ray.data.Dataset`) with the features of its `text_column` added as
    `output_column` (float32, fixed-size list of the encoder's hidden size). Lazy, as every
    Ray Data transform: nothing runs until the dataset is written, iterated or materialized.

    model: a bertlite model name or folder, as `Encoder.from_pretrained` takes (every node
    must have it); threads: threads per actor, also the CPUs each actor reserves
    (`num_cpus`); actors: a fixed number of actors, or a (min, max) pair to autoscale
    (None: Ray Data's default pool); batch_size: rows per call (each actor embeds a batch
    with `batch_tokens` real tokens per forward pass, so this only sets the granularity of
    the work Ray hands out); pooling, normalize and embed_options: as `Encoder.embed`.
    """
    import ray.data

    options = dict(embed_options)
    if pooling is not None:
        options["pooling"] = pooling
    if normalize is not None:
        options["normalize"] = normalize
    if isinstance(actors, int):
        compute = ray.data.ActorPoolStrategy(size=actors)
    elif actors is not None:
        low, high = actors
        compute = ray.data.ActorPoolStrategy(min_size=low, max_size=high)
    else:
        compute = ray.data.ActorPoolStrategy()
    return ds.map_batches(
        Embedder,
        fn_constructor_kwargs=dict(
            model=model,
            text_column=text_column,
            output_column=output_column,
            threads=threads,
            embed_options=options,
        ),
        compute=compute,
        num_cpus=threads,
        batch_size=batch_size,
        batch_format="pyarrow",
    )


def read_tsv(paths: PathLike, columns: Iterable[str] = ("sentence", "label"), **kwargs: Any):
    """A `ray.data.Dataset` of tab-separated files without a header, as SST-2's
    (`sentence<TAB>label`): one column per name in `columns`, read as they are (no quoting:
    a `"` is part of the text; a label column is parsed as an integer). `kwargs` go to
    `ray.data.read_csv` (num_cpus defaults to 0: see the module's help).
    """
    import pyarrow.csv as csv
    import ray.data

    names = list(columns)
    kwargs.setdefault("num_cpus", 0)
    return ray.data.read_csv(
        _paths(paths),
        read_options=csv.ReadOptions(column_names=names),
        parse_options=csv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False),
        convert_options=csv.ConvertOptions(
            column_types={names[0]: "string"}, strings_can_be_null=False),
        **kwargs,
    )


def read_parquet(paths: PathLike, **kwargs: Any):
    """A `ray.data.Dataset` of Parquet files or folders (`ray.data.read_parquet`; num_cpus
    defaults to 0: see the module's help)."""
    import ray.data

    kwargs.setdefault("num_cpus", 0)
    return ray.data.read_parquet(_paths(paths), **kwargs)


def write_parquet(ds, path: str, **kwargs: Any) -> None:
    """Writes `ds` as Parquet files into the folder `path` (`Dataset.write_parquet`; runs the
    pipeline; its tasks ask for no CPU unless `ray_remote_args` says otherwise). The
    embedding column stays a fixed-size float32 list."""
    kwargs.setdefault("ray_remote_args", {"num_cpus": 0})
    ds.write_parquet(os.fspath(path), **kwargs)
