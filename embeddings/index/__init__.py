"""The build side: seeds parsed and chunked, embedded (here or on Dask), and written as a versioned
index (store.py) that a publisher (backend.py, milvus_backend.py) serves from."""
