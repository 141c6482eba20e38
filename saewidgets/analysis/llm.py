"""Language models as explainers and simulators, through any OpenAI-compatible endpoint.

`ChatEndpoint` posts to ``{url}/chat/completions`` (a local server such as llama.cpp, vLLM or
Ollama, or a hosted one) with the standard library only: a timeout per request, one retry, and
a clear `LLMError` when the endpoint is down, slow or answers something that is not a chat
completion. `explain_prompt` builds what the explainer reads from what the dashboard knows
about a feature; `LLMSimulator` asks the same kind of endpoint the yes/no questions of the
label scores (`label_scores.py`).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from saewidgets.analysis.stats import FeatureStats
from saewidgets.core.errors import SAEWidgetsError

MAX_LABEL_CHARS = 120  # a label, not an essay: longer answers are cut at a word
ANSWER_CHARS = 2_000  # what is kept of a reply, whatever the endpoint sends


class LLMError(SAEWidgetsError, RuntimeError):
    """The endpoint could not give a usable answer (down, too slow, or junk)."""


Messages = list[dict[str, str]]


@dataclass
class ChatEndpoint:
    """An OpenAI-compatible chat endpoint: ``ChatEndpoint("http://localhost:8080/v1",
    model="llama-3.1-8b")``. ``api_key`` defaults to the ``OPENAI_API_KEY`` environment
    variable (none is sent when there is none); ``timeout`` is per request in seconds, and a
    failed request is tried ``retries`` more times."""

    url: str
    model: str = "default"
    api_key: str | None = None
    timeout: float = 30.0
    retries: int = 1
    max_tokens: int = 48
    temperature: float = 0.0
    _calls: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not re.match(r"https?://", self.url):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive seconds, got {self.timeout!r}")
        if self.api_key is None:
            self.api_key = os.environ.get("OPENAI_API_KEY")

    def __call__(self, messages: Messages) -> str:
        body = json.dumps(
            {
                "model": self.model,
                "messages": messages,
                "max_tokens": self.max_tokens,
                "temperature": self.temperature,
            }
        ).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        target = self.url.rstrip("/") + "/chat/completions"
        why = ""
        for attempt in range(self.retries + 1):
            self._calls += 1
            try:
                request = urllib.request.Request(target, data=body, headers=headers)
                with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                    return _content(reply.read(1_000_000))
            except urllib.error.HTTPError as error:
                why = f"HTTP {error.code} from {target}"
            except (urllib.error.URLError, ConnectionError) as error:
                why = f"cannot reach {target} ({getattr(error, 'reason', error)})"
            except TimeoutError:
                why = f"{target} did not answer within {self.timeout:g} s"
            except LLMError as error:
                why = str(error)
            if attempt < self.retries:
                time.sleep(0.2)
        tries = self.retries + 1
        raise LLMError(f"{why} ({tries} {'try' if tries == 1 else 'tries'})")


def _content(raw: bytes) -> str:
    try:
        reply = json.loads(raw.decode("utf-8"))
        content = reply["choices"][0]["message"]["content"]
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError) as error:
        raise LLMError(
            f"the endpoint's reply is not a chat completion ({type(error).__name__}: "
            f"{str(error)[:80]}); expected JSON with choices[0].message.content"
        ) from None
    if not isinstance(content, str):
        raise LLMError("the endpoint's reply has no text in choices[0].message.content")
    return content[:ANSWER_CHARS]


def clean_label(answer: str) -> str:
    """The label in an explainer's answer: the first sentence of its first non-empty line,
    without a "Label:" prefix, quotes or a final full stop, cut at a word to
    `MAX_LABEL_CHARS`; `LLMError` when no words are left."""
    for line in answer.splitlines():
        line = re.sub(r"^\s*(?:label|explanation|answer)\s*[:\-]\s*", "", line, flags=re.I)
        line = line.strip().strip("\"'`*").strip()
        if line:
            break
    else:
        raise LLMError("the explainer answered nothing")
    line = re.split(r"(?<=[.!?])\s", line)[0].strip().strip("\"'`*").rstrip(".").strip()
    if len(line) > MAX_LABEL_CHARS:
        cut = line[:MAX_LABEL_CHARS].rsplit(" ", 1)[0]
        if " " not in line[:MAX_LABEL_CHARS] or len(cut) < MAX_LABEL_CHARS // 4:
            raise LLMError(f"the explainer's answer is not a label: {line[:40]!r}…")
        line = cut + "…"
    if not re.search(r"[^\W\d_]{2,}", line):
        raise LLMError(f"the explainer's answer has no words: {line[:40]!r}")
    return line


def _marked(texts: list[str], marks: dict[int, tuple[str, str]]) -> str:
    return "".join(
        f"{marks[i][0]}{t}{marks[i][1]}" if i in marks else t for i, t in enumerate(texts)
    )


def explain_prompt(
    stats: FeatureStats, feature: int, cores: list[int] | None = None, n_examples: int = 10
) -> Messages:
    """What an explainer reads about ``feature``: its top contexts with the strongest token in
    [[ ]] (and, given PruningMaxAct ``cores`` (tokens per example), the span that alone keeps it
    firing in « »), the tokens that tell most about where it fires and what follows, and the
    tokens its output raises."""
    examples = stats.top_examples(feature, n=n_examples)
    lines = []
    for i, ex in enumerate(examples):
        texts = [stats.token_text(t) for t in ex["token_ids"]]
        focus = ex["focus"]
        marks = {focus: ("[[", "]]")}
        if cores and i < len(cores) and cores[i] and 1 < cores[i] <= focus + 1:
            start = focus - cores[i] + 1
            marks[start] = ("«", "")
            marks[focus] = ("[[", "]]»")
        lines.append(f"{i + 1}. " + _marked(texts, marks).replace("\n", "↵"))
    facts = []
    for name, after in (("Tokens where it fires, most telling first", False),
                        ("Tokens that come right after it fires", True)):  # fmt: skip
        tokens = [stats.token_text(t) for t, _ in stats.mi_tokens(feature, after)[:8]]
        if tokens:
            facts.append(f"{name}: " + ", ".join(repr(t) for t in tokens))
    raised = [stats.token_text(int(t)) for t in stats.vocab_top_ids[feature][:8]]
    facts.append("Tokens its output makes more likely: " + ", ".join(repr(t) for t in raised))
    intro = (
        "You label features of a language model. A feature fires on some tokens of a text. "
        "Below are texts where it fires most; the token where it fires most is in [[ ]]"
        + (", and « » marks the shortest span that alone still makes it fire" if cores else "")
        + "."
    )
    ask = (
        "Reply with one short label (at most 8 words) naming what the feature responds to, "
        "specific enough to tell it from other features. Reply with the label only."
    )
    user = "\n".join([intro, "", *lines, "", *facts, "", ask])
    return [{"role": "user", "content": user}]


def _yes(answer: str) -> bool | None:
    word = re.match(r"\W*(\w+)", answer.lower())
    if word is None:
        return None
    return {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}.get(
        word.group(1)
    )


class LLMSimulator:
    """Label scores judged by a language model: for detection it is asked whether a text
    contains what the label describes, for fuzzing whether the tokens marked [[ ]] are. An
    answer that is neither yes nor no counts as no (the label failed to convince)."""

    def __init__(self, chat: Callable[[Messages], str]) -> None:
        self.chat = chat
        self.unclear = 0  # answers that were neither yes nor no

    def _ask(self, question: str) -> bool:
        answer = _yes(self.chat([{"role": "user", "content": question}]))
        if answer is None:
            self.unclear += 1
        return bool(answer)

    def detect(self, label: str, contexts: list[list[str]]) -> list[bool]:
        return [
            self._ask(
                f'A feature of a language model is described as: "{label}".\n'
                f"Text: {''.join(c)}\n"
                "Does the text contain what the description names? Answer yes or no."
            )
            for c in contexts
        ]

    def fuzz(self, label: str, contexts: list[list[str]], marked: list[list[int]]) -> list[bool]:
        out = []
        for c, m in zip(contexts, marked, strict=True):
            text = _marked(c, {i: ("[[", "]]") for i in m})
            out.append(
                self._ask(
                    f'A feature of a language model is described as: "{label}".\n'
                    f"Text: {text}\n"
                    "Are the tokens in [[ ]] what the description names? Answer yes or no."
                )
            )
        return out


__all__ = ["ChatEndpoint", "LLMError", "LLMSimulator", "clean_label", "explain_prompt"]
