"""The store protocol's conformance suite: every promise of `AbstractStore`, through it only.

A store implementation runs it unchanged: subclass `suite.StoreContract` in a `test_*.py`
module and give the class a `new_store_uri` fixture returning the URI of a new, empty store that
`reporter.store.registry.open_store` opens with the implementation (register its scheme first).
`test_parquet.py` runs it on the Parquet store in a folder and on moto's S3 server.
"""
