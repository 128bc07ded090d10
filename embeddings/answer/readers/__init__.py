"""The readers: a language model says which candidate sentence states the answer, or that none does.

``protocol`` (what a backend is; ``Reading``, ``ReaderFailed``), ``prompt``, ``guard`` (one call at
a time, bounded, failures as values), ``registry`` (name -> backend), then one file per backend."""

from embeddings.answer.readers.guard import GuardedReader
from embeddings.answer.readers.protocol import Reader, ReaderFailed, Reading
from embeddings.answer.readers.registry import BACKENDS, make_reader

__all__ = ["BACKENDS", "GuardedReader", "Reader", "ReaderFailed", "Reading", "make_reader"]
