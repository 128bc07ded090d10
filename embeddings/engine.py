"""The engine facade the edges use: open an index, ask questions, rebuild without downtime."""

from __future__ import annotations

import logging
import threading
from typing import Callable

from embeddings.answer.candidates import score
from embeddings.answer.compose import compose
from embeddings.answer.decision import decide
from embeddings.answer.judge import Judge, judge_pool, open_judge
from embeddings.answer.question import Question
from embeddings.answer.readers import GuardedReader, make_reader
from embeddings.config import Config
from embeddings.documents import Document
from embeddings.errors import CasebotError, IndexMissing
from embeddings.index import store
from embeddings.index.build import build_index, chunking_identity, model_identity, onnx_dir
from embeddings.models.encoder import Encoder
from embeddings.results import Answer, BuildReport, Stopwatch
from embeddings.retrieval.open import open_retriever
from embeddings.retrieval.protocol import Retriever


_log = logging.getLogger("casebot").info  # what the engine reports; the edges say where it goes


class Engine:
    """Holds one loaded index version; ``reindex`` swaps in a new one while ``ask`` keeps serving."""

    def __init__(self, config: Config, encoder: Encoder, retriever: Retriever, log: Callable[[str], None],
                 reader: GuardedReader | None = None, judge: Judge | None = None):
        self.config = config
        self.encoder = encoder  # builds; its torch model loads only when a build embeds something
        self.query_encoder = query_encoder(config, encoder)
        # The reader model loads once per process; an engine may be handed one already loaded.
        self.reader = reader if reader is not None else make_reader(config.reader)
        self.judge, self.judge_failed = (judge, None) if judge is not None else load_judge(config, log)
        self._retriever = retriever
        self._log = log
        self._build_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._bad_version: str | None = None

    @classmethod
    def open(cls, config: Config, encoder: Encoder | None = None, build_if_missing: bool = True,
             log: Callable[[str], None] | None = None, reader: GuardedReader | None = None,
             judge: Judge | None = None) -> "Engine":
        log = log or _log
        encoder = encoder or Encoder.from_config(config.model)
        try:
            retriever = load_index(config, encoder)
        except IndexMissing:
            if not build_if_missing:
                raise
            log(f"no index yet at {config.paths.index}; building it from {config.paths.seeds} (first run only)")
            report = build_index(config, encoder, log=log, progress=True)
            log(f"indexed {report.documents} documents as {report.chunks} passages in {report.seconds:.1f} s")
            retriever = load_index(config, encoder)
        return cls(config, encoder, retriever, log, reader, judge)

    @property
    def index_version(self) -> str:
        return self._retriever.version

    @property
    def retriever(self) -> Retriever:
        return self._retriever

    @property
    def data(self) -> store.IndexData | None:
        """The loaded version in FAISS mode (benchmarks and training read it); None in Milvus mode."""
        return self._retriever.data

    def sources(self) -> list[Document]:
        return sorted(self._retriever.documents(), key=lambda d: (d.doc_id, d.part))

    def ask(self, question: str) -> Answer:
        self._follow_current()
        return self.answer_from(self._retriever, question)  # one version for the whole answer, even if a swap happens now

    def answer_from(self, retriever: Retriever, question: str) -> Answer:
        """The answer stage as a pipeline (embeddings/answer/): question, passages, candidates, decision, answer."""
        clock = Stopwatch()
        q = Question.ask(question, self.config.question.max_chars, self.query_encoder, retriever.lexicon)
        clock.lap("embed")
        found = retriever.candidates(q, self.config.retrieval.candidates, clock.ms)
        data, hits = found.passages, found.hits
        clock.lap("search")
        candidates = score(data, hits, q, self.config.answer, self.config.decision.scorer)
        judged = judge_pool(self.judge, data, hits, q, self.config) if self.judge is not None else None
        decision = decide(q, data, candidates, self.reader, self.config, judged)
        if judged is not None:
            clock.lap("judge")  # its pool, the decision and the sentences the judge read for it
        return compose(q, data, hits, decision, self.config, clock, self.judge_failed)

    def reindex(self, full: bool = False, progress: bool = False) -> BuildReport:
        """Rebuild from the seeds folder, then swap the new version in; the old one serves until then."""
        with self._build_lock:
            report = build_index(self.config, self.encoder, full=full, log=self._log, progress=progress)
            self._retriever = load_index(self.config, self.encoder)
            return report

    def _follow_current(self) -> None:
        """Serve the version ``current`` points to, when another process (``casebot index``) built it.

        One readlink per question; the reload happens in one thread while the others keep answering
        from the old version, and a version that fails to load is not retried."""
        version = store.current_version(self.config.paths.index)
        if version in (None, self._retriever.version, self._bad_version):
            return
        if not self._reload_lock.acquire(blocking=False):
            return
        try:
            self._retriever = load_index(self.config, self.encoder)
            self._log(f"now serving index {self._retriever.version}")
        except CasebotError as exc:
            self._bad_version = version
            self._log(f"index {version} not loaded ({exc}); still serving {self._retriever.version}")
        finally:
            self._reload_lock.release()

    def refresh(self) -> bool:
        """Pick up a version another process built; True if the loaded index changed."""
        if store.current_version(self.config.paths.index) == self._retriever.version:
            return False
        self._retriever = load_index(self.config, self.encoder)
        return True


def load_judge(config: Config, log) -> tuple[Judge | None, str | None]:
    """(the judge, None), or (None, why not) when it cannot be had: the reader or the extractive
    policy then decides, and each answer's checks say so. No judge is asked for when ``[decision]
    with_judge`` is ""."""
    if not config.decision.with_judge:
        return None, None
    try:
        return open_judge(config.judge, log), None  # one session a process (open_judge caches it)
    except CasebotError as exc:
        log(f"the answer judge is unavailable ({exc}); answering without it")
        return None, str(exc)


def query_encoder(config: Config, encoder: Encoder):
    """The ONNX export made at build time when there is one (no torch import: fast cold start),
    else the sentence-transformers model itself. Both give the same vectors (tests/test_onnx_encoder.py)."""
    folder = onnx_dir(config)
    if folder is not None:
        from embeddings.models.onnx_encoder import OnnxQueryEncoder, onnx_export_present

        if onnx_export_present(folder):
            try:
                return OnnxQueryEncoder(folder)
            except CasebotError:
                pass
    return encoder


def load_index(config: Config, encoder: Encoder) -> Retriever:
    """The retriever over the version ``current`` names, once its manifest matches the configuration."""
    path, manifest = store.read_manifest(config.paths.index)
    store.check_compatible(manifest, model_identity(config, encoder), chunking_identity(config, encoder))
    return open_retriever(config, manifest, path)
