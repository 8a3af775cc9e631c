"""The conformance suite on the Parquet store: in a folder and on moto's S3 server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import new_bucket
from tests.store_contract.suite import StoreContract


class TestParquetInAFolder(StoreContract):
    @pytest.fixture
    def new_store_uri(self, tmp_path: Path) -> str:
        return str(tmp_path / "contract-store")


class TestParquetOnS3(StoreContract):
    @pytest.fixture
    def new_store_uri(self, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
        return f"s3://{new_bucket(s3_endpoint, monkeypatch)}/store"
