"""The remote reader: any OpenAI-compatible chat endpoint (a llama.cpp server, Ollama, vLLM, a hosted
API). The key comes from the environment variable named by ``[reader.openai] api_key_env``, never a file.

The label probabilities come from ``top_logprobs`` of the first reply token; an endpoint that gives
no log-probabilities is read from the reply itself (probability 1 for the label it wrote)."""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.request

from embeddings.errors import ReaderUnavailable


class OpenAIReader:
    def __init__(self, settings, timeout: float):  # settings: [reader.openai]
        if not settings.base_url:
            raise ReaderUnavailable("[reader.openai] base_url is not set for the openai backend")
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        self.model = settings.api_model or "default"
        self.key = os.environ.get(settings.api_key_env, "")
        self.timeout = timeout
        self.top_logprobs = settings.top_logprobs
        self.name = f"openai:{self.model}"

    def label_probabilities(self, msgs: list[dict], labels: list[str]) -> tuple[dict[str, float], int]:
        body = {"model": self.model, "messages": msgs, "max_tokens": 1, "temperature": 0.0,
                "logprobs": True, "top_logprobs": self.top_logprobs}
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.load(response)
        except urllib.error.HTTPError as exc:
            raise ReaderUnavailable(f"reader endpoint {self.url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ReaderUnavailable(f"reader endpoint {self.url} unreachable: {getattr(exc, 'reason', exc)}") from None
        except ValueError:
            raise ReaderUnavailable(f"reader endpoint {self.url} sent something that is not JSON") from None
        try:
            choice = reply["choices"][0]
            prompt_tokens = int(reply.get("usage", {}).get("prompt_tokens", 0))
            content = (choice.get("logprobs") or {}).get("content") or []
            if content and content[0].get("top_logprobs"):
                probs: dict[str, float] = {}
                for entry in content[0]["top_logprobs"]:
                    token = entry["token"].strip()
                    if token in labels:
                        probs[token] = probs.get(token, 0.0) + math.exp(entry["logprob"])
                return probs, prompt_tokens
            said = (choice["message"]["content"] or "").strip()[:1]
            return ({said: 1.0} if said in labels else {}), prompt_tokens
        except (KeyError, IndexError, TypeError) as exc:
            raise ReaderUnavailable(f"reader endpoint {self.url} sent an unexpected reply ({exc})") from None
