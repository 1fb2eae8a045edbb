"""tests/python/test_ray.py - bertlite.ray: embedding a dataset with Ray Data.

One local Ray instance for the module (2 CPUs, no dashboard, its files in a temporary folder).
The features Ray Data writes to Parquet with 2 actors of 1 thread each are, row for row, those
of `bertlite.Encoder.embed` on the same sentences in the driver (the same library on the same
inputs: asserted exactly, with 1e-6 as the bound); the SST-2 TSV reader gives the file's rows.
The package is built and installed by the `bertlite_package` fixture (conftest.py): the Ray
workers import the installed bertlite. Run:
  .venv/bin/python -m pytest -q tests/python/test_ray.py
"""

import threading
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "data" / "sst2" / "dev.tsv"
MODEL = "all-MiniLM-L6-v2"


def dev_rows(n=None):
    lines = DEV.read_text(encoding="utf-8").splitlines()
    rows = [(s, int(label)) for s, label in (line.split("\t") for line in lines)]
    return rows[:n] if n else rows


@pytest.fixture(scope="module")
def bl(bertlite_package):
    return bertlite_package


@pytest.fixture(scope="module")
def local_ray(bl, tmp_path_factory):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=256 * 1024 * 1024,
             _temp_dir=str(tmp_path_factory.mktemp("ray")))
    yield ray
    ray.shutdown()


def arrow_of(ds):
    """A Ray dataset as one pyarrow Table, sorted by its id column."""
    return pa.concat_tables(ray.get(ds.to_arrow_refs())).sort_by("id")


def features_of(table):
    """The embedding column of a pyarrow Table as float32 [rows, hidden]."""
    column = table.column("embedding").combine_chunks()
    return column.flatten().to_numpy().reshape(len(table), column.type.list_size)


def test_two_actors_write_the_features_encoder_embed_returns(bl, local_ray, tmp_path):
    from bertlite.ray import embed_dataset, read_parquet, write_parquet

    sentences = [s for s, _ in dev_rows(300)]
    ds = local_ray.data.from_items([{"id": i, "sentence": s} for i, s in enumerate(sentences)])
    # 32-row batches: 10 batches, so both actors get work.
    out = embed_dataset(ds, MODEL, actors=2, threads=1, batch_size=32)
    write_parquet(out, tmp_path / "features")
    assert list((tmp_path / "features").glob("*.parquet"))

    table = pq.read_table(tmp_path / "features").sort_by("id")
    assert table.column("id").to_pylist() == list(range(len(sentences)))
    assert table.column("sentence").to_pylist() == sentences
    assert str(table.schema.field("embedding").type) == "fixed_size_list<element: float>[384]"

    expected = bl.Encoder.from_pretrained(MODEL).embed(sentences)
    got = features_of(table)
    assert got.dtype == np.float32 and got.shape == expected.shape == (300, 384)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)

    # Read back through Ray as well: the same rows.
    back = arrow_of(read_parquet(tmp_path / "features"))
    np.testing.assert_array_equal(features_of(back), got)


def test_embed_options_reach_the_actors(bl, local_ray):
    from bertlite.ray import embed_dataset

    sentences = [s for s, _ in dev_rows(40)]
    ds = local_ray.data.from_items([{"id": i, "text": s} for i, s in enumerate(sentences)])
    out = embed_dataset(ds, MODEL, text_column="text", output_column="vec", actors=1,
                        threads=2, batch_size=16, pooling="cls", normalize=False)
    table = arrow_of(out)
    got = table.column("vec").combine_chunks().flatten().to_numpy().reshape(len(table), -1)
    expected = bl.Encoder.from_pretrained(MODEL).embed(sentences, pooling="cls", normalize=False)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_read_tsv_gives_the_sst2_rows(local_ray, tmp_path):
    from bertlite.ray import read_tsv

    ds = read_tsv(DEV)
    assert ds.columns() == ["sentence", "label"]
    rows = [(r["sentence"], r["label"]) for r in ds.take_all()]
    expected = dev_rows()
    # One file, one read task: the file's order (sorted too, in case Ray splits it).
    assert sorted(rows) == sorted(expected)
    assert len(rows) == len(expected) == 872
    # Quotes and commas are text, not CSV quoting.
    tsv = tmp_path / "quoted.tsv"
    tsv.write_text('"quoted" start, with a comma\t1\nhe said "hi\t0\n', encoding="utf-8")
    assert read_tsv(tsv).take_all() == [
        {"sentence": '"quoted" start, with a comma', "label": 1},
        {"sentence": 'he said "hi', "label": 0},
    ]


def run_within(seconds, fn):
    """fn() in a thread; fails (instead of hanging the suite) if it takes longer."""
    result, errors = [], []

    def target():
        try:
            result.append(fn())
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the Ray pipeline did not finish in {seconds} s (deadlock?)"
    if errors:
        raise errors[0]
    return result[0]


def test_tsv_to_parquet_with_every_cpu_held_by_actors(bl, local_ray, tmp_path):
    # 2 actors x 1 thread hold both CPUs Ray has: the read and write tasks must not wait for
    # one (with ray.data.read_csv's defaults this hangs).
    from bertlite.ray import embed_dataset, read_parquet, read_tsv, write_parquet

    out = tmp_path / "dev"
    run_within(60, lambda: write_parquet(
        embed_dataset(read_tsv(DEV), MODEL, actors=2, threads=1, batch_size=128), out))
    table = pa.concat_tables(ray.get(read_parquet(out).to_arrow_refs()))
    assert table.column_names == ["sentence", "label", "embedding"]
    rows = dev_rows()
    assert sorted(zip(table.column("sentence").to_pylist(), table.column("label").to_pylist())) \
        == sorted(rows)
    sentences = [s for s, _ in rows]
    expected = dict(zip(sentences, bl.Encoder.from_pretrained(MODEL).embed(sentences)))
    got = features_of(table)
    for sentence, row in zip(table.column("sentence").to_pylist(), got):
        np.testing.assert_allclose(row, expected[sentence], rtol=0, atol=1e-6)


def test_sst2_train_through_ray_equals_bertlite_embed_in_input_order(bl, local_ray, tmp_path):
    # The check: all of SST-2 train through 2 actors, the Parquet rows in the input
    # order (Ray Data keeps it when asked) equal to the CLI's `bertlite embed` of the file.
    import os
    import subprocess

    from bertlite.ray import embed_dataset, read_parquet, read_tsv, write_parquet

    train = ROOT / "data" / "sst2" / "train.tsv"
    cli = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build")) / "cli" / "bertlite"
    reference = tmp_path / "train.npy"
    subprocess.run([str(cli), "embed", "--model", MODEL, "--input", str(train), "--out",
                    str(reference), "--threads", "2"], check=True,
                   capture_output=True)
    context = ray.data.DataContext.get_current()
    kept = context.execution_options.preserve_order
    context.execution_options.preserve_order = True
    try:
        out = tmp_path / "train"
        run_within(240, lambda: write_parquet(
            embed_dataset(read_tsv(train), MODEL, actors=2, threads=1), out))
        table = pa.concat_tables(ray.get(read_parquet(out).to_arrow_refs()))
    finally:
        context.execution_options.preserve_order = kept
    sentences = [line.split("\t")[0] for line in train.read_text(encoding="utf-8").splitlines()]
    assert table.column("sentence").to_pylist() == sentences
    expected = np.load(reference)
    assert expected.shape == (6920, 384)
    # The same library; thread counts and batches differ, so sums may round differently.
    np.testing.assert_allclose(features_of(table), expected, rtol=0, atol=1e-5)
