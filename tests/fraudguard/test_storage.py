"""fraudguard/storage.py against a real S3-compatible server on localhost (moto's server mode), not a mock."""

from __future__ import annotations

import logging
import ntpath
import os
from collections.abc import Iterator
from pathlib import Path, PureWindowsPath
from typing import Any
from unittest import mock

import boto3
import pandas as pd
import pytest

from fraudguard.errors import ArtifactError, FraudguardError
from fraudguard.storage import (
    Location,
    StorageError,
    download_model,
    object_key,
    parse_location,
    read_parquet,
    s3_client,
    upload_model,
    write_parquet,
)
from fraudguard.train import load_model


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with throwaway credentials and two buckets, stopped after the module."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": url, "AWS_EC2_METADATA_DISABLED": "true",
    }
    with mock.patch.dict(os.environ, env):
        admin = boto3.client("s3")
        for bucket in ("models", "batches"):
            admin.create_bucket(Bucket=bucket)
        yield url
    server.stop()


@pytest.fixture()
def s3(endpoint: str) -> Any:
    return boto3.client("s3")


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("models", "fraudguard", "model.skops"), "models/fraudguard/model.skops"),
        (("models/", "/v3//", "x.parquet"), "models/v3/x.parquet"),
        ((PureWindowsPath(r"daily\2026-03-02.parquet"),), "daily/2026-03-02.parquet"),
        (("a\\b", "c"), "a/b/c"),
    ],
)
def test_object_key_joins_with_slashes(parts: tuple[Any, ...], key: str) -> None:
    assert object_key(*parts) == key


def test_object_key_uses_slashes_on_windows_too() -> None:
    """Is the key the same when os.path is Windows' (a learner's os.path.join would give backslashes)?"""
    with mock.patch("os.path", ntpath):
        assert object_key("models", "fraudguard", "model.skops") == "models/fraudguard/model.skops"


@pytest.mark.parametrize("parts", [("models", ".."), ("",), ("/", "//")])
def test_object_key_refuses_dot_segments_and_empty_keys(parts: tuple[str, ...]) -> None:
    with pytest.raises(StorageError):
        object_key(*parts)


def test_parse_location_reads_s3_urls_and_local_paths(tmp_path: Path) -> None:
    assert parse_location("s3://batches/2026//03/02.parquet") == Location("batches", "2026/03/02.parquet")
    assert str(parse_location("s3://batches/a/b")) == "s3://batches/a/b"
    assert parse_location(tmp_path / "x.parquet") == Location(None, str(tmp_path / "x.parquet"))


@pytest.mark.parametrize("bad", ["s3://", "s3://bucket-only", "s3://bucket/", "gs://bucket/key"])
def test_parse_location_refuses_what_it_cannot_read(bad: str) -> None:
    with pytest.raises(StorageError):
        parse_location(bad)
    assert issubclass(StorageError, FraudguardError)


def test_s3_client_signs_with_the_environments_credentials(endpoint: str) -> None:
    with mock.patch.dict(os.environ, {"AWS_ACCESS_KEY_ID": "rotated", "AWS_SECRET_ACCESS_KEY": "secret"}):
        client = s3_client()
        assert client._request_signer._credentials.access_key == "rotated"
        assert client.meta.endpoint_url == endpoint


def test_s3_client_without_credentials_says_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no"), "AWS_CONFIG_FILE": str(tmp_path / "no"),
            "AWS_EC2_METADATA_DISABLED": "true"}
    with mock.patch.dict(os.environ, env, clear=True), pytest.raises(StorageError, match="AWS_ACCESS_KEY_ID"):
        s3_client()


@pytest.mark.parametrize("where", ["s3://batches/2026/03/02.parquet", "LOCAL"])
def test_parquet_round_trips_locally_and_on_the_store(
    transactions: pd.DataFrame, endpoint: str, tmp_path: Path, where: str
) -> None:
    location = str(tmp_path / "out" / "x.parquet") if where == "LOCAL" else where
    assert write_parquet(transactions, location) == location
    pd.testing.assert_frame_equal(read_parquet(location), transactions.reset_index(drop=True))
    assert not list((tmp_path / "out").glob(".*.tmp")) if where == "LOCAL" else True


@pytest.mark.parametrize(
    "missing", ["s3://batches/nope.parquet", "s3://no-such-bucket/x.parquet", "/definitely/not/here.parquet"]
)
def test_reading_a_missing_object_is_a_storage_error_naming_it(endpoint: str, missing: str) -> None:
    with pytest.raises(StorageError, match=missing.rsplit("/", 1)[-1].replace(".", r"\.")):
        read_parquet(missing)


def test_writing_to_a_missing_bucket_is_a_storage_error(transactions: pd.DataFrame, endpoint: str) -> None:
    with pytest.raises(StorageError, match="no-such-bucket"):
        write_parquet(transactions.head(3), "s3://no-such-bucket/x.parquet")


def test_a_model_round_trips_through_the_store(saved_model: Path, s3: Any, tmp_path: Path, transactions: pd.DataFrame) -> None:
    prefix = "s3://models/fraudguard/v1"
    upload_model(saved_model, prefix)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="models", Prefix="fraudguard/v1/")["Contents"])
    assert keys == ["fraudguard/v1/metadata.json", "fraudguard/v1/model.skops"]
    fetched = download_model(prefix, into=tmp_path / "fetched")
    original = load_model(saved_model)
    assert fetched.version == original.version
    assert (fetched.score(transactions.head(50)) == original.score(transactions.head(50))).all()


def test_a_model_changed_in_the_bucket_is_refused(saved_model: Path, s3: Any) -> None:
    blob = bytearray((saved_model / "model.skops").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    s3.put_object(Bucket="models", Key="tampered/model.skops", Body=bytes(blob))
    s3.put_object(Bucket="models", Key="tampered/metadata.json", Body=(saved_model / "metadata.json").read_bytes())
    with pytest.raises(ArtifactError, match="SHA-256"):
        download_model("s3://models/tampered")


def test_a_missing_model_or_a_local_prefix_is_a_storage_error(saved_model: Path, endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        download_model("s3://models/no-such-version")
    with pytest.raises(StorageError, match="not an s3://"):
        upload_model(saved_model, str(tmp_path / "models"))
    with pytest.raises(StorageError, match="missing"):
        upload_model(tmp_path, "s3://models/empty")
