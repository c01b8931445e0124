"""fraudguard/distributed.py: the same scoring and features on a LocalCluster or at a scheduler address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from fraudguard.distributed import (
    SCORE_COLUMNS,
    DistributedError,
    dask_client,
    features_with_dask,
    partition_by_customer,
    score_with_dask,
)
from fraudguard.errors import FraudguardError
from fraudguard.train import FraudModel, load_model


@pytest.fixture(scope="module")
def model(saved_model: Path) -> FraudModel:
    return load_model(saved_model)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with dask_client() as running:
        yield running


def test_the_default_client_runs_a_local_cluster_of_two_workers_and_shuts_it_down() -> None:
    with dask_client() as client:
        assert len(client.scheduler_info()["workers"]) == 2
        cluster = client.cluster
    assert cluster is not None and cluster.status.name == "closed"


def test_a_scheduler_address_is_used_and_the_cluster_left_running() -> None:
    """Is the same code run on an existing cluster, given its address or Dask's configuration?"""
    with LocalCluster(n_workers=1, processes=False, host="127.0.0.1", protocol="tcp", dashboard_address=None) as shared:
        with dask_client(shared.scheduler_address) as client:
            assert client.scheduler.address == shared.scheduler_address
        with dask.config.set({"scheduler-address": shared.scheduler_address}), dask_client() as client:
            assert client.scheduler.address == shared.scheduler_address
        assert shared.status.name == "running"


def test_an_unreachable_scheduler_is_a_typed_error_naming_the_address() -> None:
    with pytest.raises(DistributedError, match="127.0.0.1:9"), dask_client("tcp://127.0.0.1:9", timeout="1s"):
        pass
    assert issubclass(DistributedError, FraudguardError)


def test_partition_by_customer_puts_each_customer_in_one_partition(transactions: pd.DataFrame) -> None:
    shuffled = partition_by_customer(dd.from_pandas(transactions, npartitions=4))
    homes = shuffled.map_partitions(
        lambda part: part[["customer_id"]].assign(part=id(part)), meta={"customer_id": "str", "part": "int64"}
    ).compute(scheduler="sync")
    assert len(homes) == len(transactions)
    assert homes.groupby("customer_id")["part"].nunique().max() == 1


@pytest.mark.parametrize("npartitions", [1, 3, 7])
def test_scores_do_not_depend_on_the_partitioning(
    model: FraudModel, transactions: pd.DataFrame, client: Client, npartitions: int
) -> None:
    """Does every partition hold the whole past of its rows, so the scores equal one process's?"""
    out = score_with_dask(dd.from_pandas(transactions, npartitions=npartitions), model=model, client=client).compute()
    assert list(out.columns) == list(SCORE_COLUMNS)
    got = out.set_index("transaction_id").loc[transactions["transaction_id"], "fraud_probability"].to_numpy()
    np.testing.assert_array_equal(got, model.score(transactions))


def test_score_with_dask_honours_the_threshold_without_a_client(model: FraudModel, transactions: pd.DataFrame) -> None:
    out = score_with_dask(dd.from_pandas(transactions.head(200), npartitions=2), model=model, threshold=1.1)
    assert not out.compute(scheduler="sync")["flagged"].any()


def test_features_with_dask_equal_the_transformer_on_the_whole_frame(
    model: FraudModel, transactions: pd.DataFrame, client: Client
) -> None:
    transformer = model.pipeline[0]
    expected = transformer.transform(transactions)
    got = features_with_dask(dd.from_pandas(transactions, npartitions=5), features=transformer).compute()
    got = got.set_index("transaction_id").loc[transactions["transaction_id"]].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
