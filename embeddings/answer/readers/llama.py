"""The local reader: llama.cpp in this process (llama-cpp-python) over a GGUF instruct model.

The model loads once per process. Every prompt starts with the same system text and examples, so
llama.cpp's prefix cache skips them after the first question and only the question and its
candidate sentences are evaluated."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from embeddings.errors import ReaderUnavailable
from embeddings.models.reader_model import spec_for, verify


class LlamaReader:
    def __init__(self, settings, timeout: float):  # settings: [reader.llama]; a local call needs no timeout
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ReaderUnavailable("llama-cpp-python is not installed (CASEBOT_WITH_READER=1 "
                                    "scripts/setup installs it)") from None
        path = Path(settings.model)
        expected = settings.sha256 or (spec_for(path).sha256 if spec_for(path) else "")
        if expected:
            verify(path, expected)
        elif not path.is_file():
            raise ReaderUnavailable(f"reader model {path} not found")
        self.name = f"llama:{path.name}"
        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
            try:
                self._llm = Llama(model_path=str(path), n_ctx=settings.context, n_threads=settings.threads,
                                  n_batch=settings.n_batch, seed=0, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise ReaderUnavailable(f"llama.cpp could not load {path}: {exc}") from None
        self._label_ids: dict[str, int] = {}
        self._formatter = None

    def _label_id(self, label: str) -> int:
        if label not in self._label_ids:
            ids = self._llm.tokenize(label.encode(), add_bos=False, special=False)
            if len(ids) != 1:
                raise ReaderUnavailable(f"the reader model spells {label!r} as {len(ids)} tokens; it cannot be used")
            self._label_ids[label] = ids[0]
        return self._label_ids[label]

    def _prompt_tokens(self, msgs: list[dict]) -> list[int]:
        """The chat as the model's own template (from the GGUF) lays it out, tokenized."""
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self._llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise ReaderUnavailable("the reader model has no chat template in its GGUF metadata")
            text = lambda token: self._llm.detokenize([token], special=True).decode("utf-8", "replace")  # noqa: E731
            self._formatter = Jinja2ChatFormatter(template, eos_token=text(self._llm.token_eos()),
                                                  bos_token=text(self._llm.token_bos()))
        prompt = self._formatter(messages=msgs).prompt
        return self._llm.tokenize(prompt.encode(), add_bos=False, special=True)

    def label_probabilities(self, msgs: list[dict], labels: list[str]) -> tuple[dict[str, float], int]:
        """One forward pass; the next-token logits of the labels, softmaxed among themselves.

        The tokens this prompt shares with the previous one (system text and examples) stay in the
        KV cache and are not evaluated again."""
        from llama_cpp import llama_get_logits_ith

        tokens = self._prompt_tokens(msgs)
        if len(tokens) >= self._llm.n_ctx():
            raise ReaderUnavailable(f"the prompt ({len(tokens)} tokens) does not fit the reader's context")
        ids = [self._label_id(label) for label in labels]
        cached = self._llm.input_ids[: self._llm.n_tokens]
        shared = 0
        for a, b in zip(cached, tokens[:-1]):  # at least one token is evaluated, for fresh logits
            if a != b:
                break
            shared += 1
        self._llm.n_tokens = shared  # eval() drops the KV cache past this point
        self._llm.eval(tokens[shared:])
        logits = np.ctypeslib.as_array(llama_get_logits_ith(self._llm.ctx, -1), shape=(self._llm.n_vocab(),))
        chosen = logits[ids].astype(np.float64)
        probs = np.exp(chosen - chosen.max())
        probs /= probs.sum()
        return dict(zip(labels, probs.tolist())), len(tokens)
