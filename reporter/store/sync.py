"""Copy one store into another (see `reporter.store.parquet.sync`: Parquet stores only)."""

from reporter.store.parquet.sync import SyncResult, sync

__all__ = ["SyncResult", "sync"]
