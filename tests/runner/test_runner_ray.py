"""The Ray Data path (runs only where ray is installed: pip install 'qaq-datasets[ray]')."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from runner_helpers import assert_same_rows, make_dataset, read_table

import qaq_datasets as qaq

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def ray_local():
    # 2 CPUs, as on the CI machine: the scorer actors reserve half a CPU each (see score_ray)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_data_equals_map(tiny_model_dir, tmp_path, ray_local):
    from qaq_datasets.runner import score_ray

    ds = make_dataset(24)
    # one row group per row: Ray 2.60's default parquet reader returned such a file's rows out of order
    pq.write_table(ds.with_format("arrow")[:], tmp_path / "in.parquet", row_group_size=1)
    sc = {name: qaq.score_fn(tiny_model_dir, dtype="float32", question=["instruction", "input"], prefix=f"{name}_",
                             device_map="cpu") for name in ("strong", "weak")}
    out = score_ray(str(tmp_path / "in.parquet"), sc, tmp_path / "out", batch_size=4, num_actors=2, rows_per_block=6)
    got = read_table(out)
    ref = ds.map(sc["strong"], batched=True, load_from_cache_file=False).map(sc["weak"], batched=True,
                                                                             load_from_cache_file=False)
    assert got.column("id").to_pylist() == list(range(24))  # input order kept
    assert_same_rows(got, ref, exact=False)
