"""A real HTTP server on 127.0.0.1 that speaks the chat-completions API, scripted per test.

The openai 3.x client sends through httpx2, which mocking libraries for httpx don't intercept, so the tests
talk to a real socket instead. Each request to ``/v1/chat/completions`` takes the next scripted `Reply`
(in order); the requests are recorded (JSON body and headers) for the tests to inspect. Replies can be
plain JSON or SSE streams, fail with a status, stall (to trip the client's read timeout) or cut the
connection half-way through a stream.

    with FakeOpenAI() as server:
        server.script(Reply(status=500), Reply("The answer [1]."))
        settings = Settings.test_profile(home, llm={"base_url": server.base_url, "api_key": "sk-test"})
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client closing its kept-alive connection is normal here; anything else is printed as usual.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


@dataclass
class Reply:
    """One scripted response.

    text: the completion's content (streamed in ``pieces`` when the request asks for a stream).
    status: an HTTP error status instead of a completion (the body is an OpenAI-style error).
    delay: seconds to wait before answering (trips the client's timeout when longer than it).
    pieces: how the text is cut into stream chunks (default: word by word).
    cut_after: stream only this many pieces, then drop the connection mid-body.
    stall_after: stream this many pieces, then stall for ``delay`` seconds (a read timeout mid-stream).
    piece_delay: seconds between stream chunks.
    """

    text: str = ""
    status: int = 200
    delay: float = 0.0
    pieces: list[str] | None = None
    cut_after: int | None = None
    stall_after: int | None = None
    piece_delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    finish: str = "stop"  # the finish reason sent at the end ("length": the token limit was reached)

    def chunks(self) -> list[str]:
        if self.pieces is not None:
            return list(self.pieces)
        words = self.text.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict
    # The server's own clock (time.perf_counter): request read, first text sent, last byte sent.
    received: float = 0.0
    first_text: float = 0.0
    done: float = 0.0

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", [])

    def source_number(self, title_words: str) -> int:
        """The number the prompt gave the source whose title contains ``title_words``."""
        import re

        for n, title in re.findall(r'<source n="(\d+)" title="([^"]*)"', self.prompt):
            if title_words.lower() in title.lower():
                return int(n)
        raise AssertionError(f"no source titled like {title_words!r} in the prompt")

    @property
    def prompt(self) -> str:
        """Every message's content, joined: what the model was shown."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


class FakeOpenAI:
    def __init__(self, default: Reply | None = None) -> None:
        self.replies: deque[Reply | Callable[[Request], Reply]] = deque()
        self.default = default
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)

    # --- control ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: Reply | Callable[[Request], Reply]) -> "FakeOpenAI":
        """Queue replies; a callable gets the request (to answer from the prompt it was sent)."""
        with self._lock:
            self.replies.extend(replies)
        return self

    def _next(self, request: Request) -> Reply:
        with self._lock:
            item = self.replies.popleft() if self.replies else None
        if item is None:
            return self.default or Reply(status=500, text="no scripted reply left")
        return item(request) if callable(item) else item

    def start(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes stalled handlers
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # --- the HTTP side ---------------------------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"unparsed": raw.decode("utf-8", "replace")}
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body, received=time.perf_counter())
                fake.requests.append(request)
                if not self.path.endswith("/chat/completions"):
                    return self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                reply = fake._next(request)
                if reply.delay and reply.stall_after is None:
                    fake.stopping.wait(reply.delay)
                if reply.status != 200:
                    kind = {401: "invalid_api_key", 403: "permission_denied", 429: "rate_limit_exceeded"}.get(reply.status, "server_error")
                    return self._json(reply.status, {"error": {"message": reply.text or f"status {reply.status}", "type": kind, "code": kind}}, reply.headers)
                if body.get("stream"):
                    return self._stream(body, reply, request)
                self._json(200, self._completion(body, reply.text))
                request.first_text = request.done = time.perf_counter()

            def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")  # no handler thread left waiting on a kept-alive socket
                self.close_connection = True
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            @staticmethod
            def _completion(body: dict, text: str) -> dict:
                return {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }

            def _chunk(self, data: bytes) -> None:
                # HTTP/1.1 chunked encoding: a connection dropped before the last chunk is a broken body.
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _event(self, body: dict, delta: dict, finish: str | None = None) -> None:
                payload = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                self._chunk(f"data: {json.dumps(payload)}\n\n".encode())

            def _stream(self, body: dict, reply: Reply, request: Request) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                try:
                    self._event(body, {"role": "assistant", "content": ""})
                    for i, piece in enumerate(reply.chunks()):
                        if reply.cut_after is not None and i >= reply.cut_after:
                            # Drop the connection mid-body: no final chunk, no [DONE].
                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                        if reply.stall_after is not None and i >= reply.stall_after:
                            fake.stopping.wait(reply.delay)
                            self.close_connection = True
                            return
                        if reply.piece_delay:
                            time.sleep(reply.piece_delay)
                        self._event(body, {"content": piece})
                        request.first_text = request.first_text or time.perf_counter()
                    self._event(body, {}, finish=reply.finish)
                    self._chunk(b"data: [DONE]\n\n")
                    self._chunk(b"")
                    request.done = time.perf_counter()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True

        return Handler
