"""The OpenAI chat-completions shapes, read and written: pure functions, no server.

A request's last message is the question and the user and assistant messages before it are the
conversation (system and tool messages are a client's own business and are ignored). Sampling options
(``temperature``, ``max_tokens``, ``tools``...) are accepted and ignored: the answer is quoted or checked
against the abstracts, not sampled. Our own options travel as extra fields of the body (the openai
client's ``extra_body``): ``k``, ``filters``, ``answer_mode`` and ``sources_in_content``.

A response is OpenAI's, plus two top-level fields: ``citations`` (number, paper_id, title, url, text: the
cited sentences, supported) and ``rag`` (refused, mode, notes, unsupported). Streamed, they come in the
last chunk, the one with ``finish_reason``.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from rag.errors import RagError
from rag.serve.service import answer_data, citation_data, sources_text
from rag.types import Answer

__all__ = ["ApiError", "ChatRequest", "chunk", "completion", "error_body", "parse_chat", "sse"]

OUR_OPTIONS = ("k", "filters", "answer_mode")
MAX_MESSAGES = 200  # a conversation longer than this is not one a person is having


class ApiError(RagError):
    """A request refused with an HTTP status, in OpenAI's error shape."""

    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.param, self.code = status, kind, param, code
        self.headers = headers or {}


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass
class ChatRequest:
    question: str
    history: list[dict] = field(default_factory=list)
    stream: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # k, filters, answer_mode: checked by the Assistant
    sources_in_content: bool = False


def _text(content: Any, where: str) -> str:
    """A message's text: a string, or the text parts of a list of typed parts (images are not read)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") in ("text", "input_text")]
        return "\n".join(p for p in parts if isinstance(p, str))
    raise ApiError(400, f"{where} must be text, or a list of parts like {{\"type\": \"text\", \"text\": \"...\"}}.", param=where)


def _flag(body: dict, name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false.", param=name)
    return value


def parse_chat(raw: bytes, sources_default: bool = False) -> ChatRequest:
    """A chat-completions request body as our question, conversation and options; `ApiError` (400) when
    it isn't one, saying what is wrong."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "The request body is not valid JSON; send a JSON object with a `messages` list.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object with a `messages` list.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "`messages` must be a non-empty list of {\"role\": ..., \"content\": ...}; the last is the question.",
                       param="messages")
    if len(messages) > MAX_MESSAGES:
        raise ApiError(400, f"{len(messages):,} messages; at most {MAX_MESSAGES} are read. Start a new conversation.", param="messages")
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ApiError(400, f"messages[{i}] must be an object with a `role` and a `content`.", param=f"messages[{i}]")
        turns.append((message["role"], _text(message.get("content"), f"messages[{i}].content"), message))
    role, question, _ = turns[-1]
    if role != "user":
        raise ApiError(400, f"The last message must be the user's question (role \"user\"), not {role[:20]!r}.", param="messages")
    history = []
    for role, text, message in turns[:-1]:
        if role in ("user", "assistant") and text.strip():
            turn = {"role": role, "content": text}
            if role == "assistant" and isinstance(message.get("paper_ids"), list):
                turn["paper_ids"] = message["paper_ids"]  # our own answers' `as_message()` carry them
            history.append(turn)
    n = body.get("n", 1)
    if n not in (1, None):
        raise ApiError(400, "Only one answer is given per request (n=1).", param="n")
    return ChatRequest(
        question=question,
        history=history,
        stream=_flag(body, "stream", False),
        options={name: body[name] for name in OUR_OPTIONS if body.get(name) is not None},
        sources_in_content=_flag(body, "sources_in_content", sources_default),
    )


# --- responses -------------------------------------------------------------------------------------------


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def _extras(answer: Answer, shown: str | None = None) -> dict:
    extras = answer_data(answer)
    if shown is not None and shown.strip() != answer.text.strip():
        # The citation check changed the text after it was streamed (renumbered or removed markers): the
        # checked text is the answer.
        extras["text"] = answer.text
    return {"citations": [citation_data(c) for c in answer.citations], "rag": extras}


def completion(answer: Answer, model: str, sources_in_content: bool = False) -> dict:
    """A whole answer as a ``chat.completion``."""
    content = answer.text + (sources_text(answer) if sources_in_content else "")
    return {
        "id": new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop", "logprobs": None}],
        **_extras(answer),
    }


def chunk(ident: str, created: int, model: str, delta: dict, finish_reason: str | None = None, **extra: Any) -> dict:
    """One ``chat.completion.chunk``."""
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        **extra,
    }


def last_chunk(ident: str, created: int, model: str, answer: Answer, shown: str) -> dict:
    """The chunk that ends a stream: ``finish_reason`` and the answer's citations and checks."""
    return chunk(ident, created, model, {}, "stop", **_extras(answer, shown))


def sse(data: dict | str) -> str:
    """One server-sent event."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n"
