"""Retrieval: finding a question's passages (embeddings/retrieval/protocol.py names the seam).

protocol.py (Retriever, Retrieved) · fusion.py (Hit, fuse: one scoring for every retriever) ·
local.py (FAISS mode) · milvus.py (Milvus mode) · open.py (the retriever a configuration asks for).
Nothing is imported here, so importing one part loads only what it needs."""
