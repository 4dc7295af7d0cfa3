"""`rag serve`: the assistant behind the OpenAI chat-completions API (Starlette routes).

    GET  /v1/models               the assistant as one model (RAG_SERVE_MODEL, "rag-abstracts")
    POST /v1/chat/completions     plain, or `"stream": true` (server-sent events ending in `data: [DONE]`)
    GET  /health                  {"status": "ready" | "starting" | "empty" | "failed", "papers": N}

Request and response shapes are `rag.serve.chat`'s. Every error is OpenAI's shape, ``{"error": {"message",
"type", "param", "code"}}``, with its status: 400 a malformed request or a bad option (the message names
it), 401 a missing or wrong key, 403 a request for another host name, 404, 405, 413 a body over
RAG_SERVE_MAX_BODY_KB, 415 a body that isn't declared JSON, 502 the LLM endpoint refused us, 503 the index
isn't ready (Retry-After), 500 anything else (the trace goes to the log, never to the client). An error
after a stream has started arrives as a ``data: {"error": ...}`` event, which the openai client raises.
"""

from __future__ import annotations

import logging
import time

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rag.access import is_loopback
from rag.answer.base import AnswerStream
from rag.errors import InvalidQuestion, LLMError, LLMUnavailable, RagError, StoreError
from rag.serve.access import key_problem
from rag.serve.chat import ApiError, ChatRequest, chunk, completion, error_body, last_chunk, new_id, parse_chat, sse
from rag.serve.service import NotReady, Service, sources_text
from rag.settings import ServeSettings

log = logging.getLogger(__name__)

__all__ = ["build_app"]

UNEXPECTED = "Something went wrong on the server ({kind}); the details are in its log. Please try again."
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering of the events


def api_error(exc: BaseException) -> ApiError:
    """Any failure as the status and message a client is shown."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, NotReady):
        return ApiError(503, str(exc), kind="service_unavailable", code="index_not_ready", headers={"Retry-After": "5"})
    if isinstance(exc, StoreError):
        return ApiError(503, str(exc), kind="service_unavailable", code="store_unavailable", headers={"Retry-After": "5"})
    if isinstance(exc, InvalidQuestion):
        return ApiError(400, str(exc))
    if isinstance(exc, LLMError) and not isinstance(exc, LLMUnavailable):
        return ApiError(502, str(exc), kind="upstream_error", code="llm_refused")
    if isinstance(exc, RagError):
        return ApiError(500, str(exc), kind="server_error")
    log.error("answering failed", exc_info=exc)
    return ApiError(500, UNEXPECTED.format(kind=type(exc).__name__), kind="server_error")


def error_response(exc: BaseException) -> JSONResponse:
    error = api_error(exc)
    return JSONResponse(error_body(str(error), error.kind, error.param, error.code), status_code=error.status, headers=error.headers)


class OpenAIApi:
    """The routes' handlers, over one `Service`."""

    def __init__(self, service: Service, settings: ServeSettings) -> None:
        self.service = service
        self.settings = settings
        self.model = settings.model
        self.max_body = settings.max_body_kb * 1024
        self.created = int(time.time())

    # --- who may ask -----------------------------------------------------------------------------------

    def check_access(self, request: Request) -> None:
        if self.settings.api_key.get_secret_value():
            problem = key_problem(request.headers.get("authorization"), self.settings.api_key)
            if problem:
                raise ApiError(401, problem, kind="authentication_error", code="invalid_api_key",
                               headers={"WWW-Authenticate": "Bearer"})
        elif not is_loopback(request.url.hostname or ""):
            # Without a key the server is on loopback; a request naming another host is a web page's
            # (DNS rebinding), not a local client's.
            raise ApiError(403, "Without RAG_SERVE_API_KEY this server answers only requests to 127.0.0.1 or localhost.",
                           kind="permission_error")

    async def read_body(self, request: Request) -> bytes:
        """The body, refused (413) as soon as it passes the limit, before it is all read."""
        limit = self.max_body
        too_big = ApiError(413, f"The request body is over {self.settings.max_body_kb:,} KB (RAG_SERVE_MAX_BODY_KB); "
                                "send a shorter conversation.", code="request_too_large")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            # A web page can post plain text to a local server without asking first; only JSON is read.
            raise ApiError(415, "Send the request as JSON (Content-Type: application/json).")
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > limit:
                raise too_big
        return bytes(body)

    # --- routes ----------------------------------------------------------------------------------------

    def _model(self) -> dict:
        return {"id": self.model, "object": "model", "created": self.created, "owned_by": "rag-abstracts"}

    async def models(self, request: Request) -> Response:
        try:
            self.check_access(request)
        except ApiError as exc:
            return error_response(exc)
        return JSONResponse({"object": "list", "data": [self._model()]})

    async def one_model(self, request: Request) -> Response:
        try:
            self.check_access(request)
            if request.path_params["model_id"] != self.model:
                raise ApiError(404, f"No model {request.path_params['model_id'][:100]!r} here; this server has {self.model!r}.",
                               param="model", code="model_not_found")
        except ApiError as exc:
            return error_response(exc)
        return JSONResponse(self._model())

    async def health(self, request: Request) -> Response:
        status = await anyio.to_thread.run_sync(self.service.status)  # a Chroma server may be slow to say
        papers = await anyio.to_thread.run_sync(self.service.assistant.count) if status == "ready" else 0
        return JSONResponse({"status": status, "papers": papers}, status_code=200 if status == "ready" else 503)

    async def chat(self, request: Request) -> Response:
        try:
            self.check_access(request)
            asked = parse_chat(await self.read_body(request), self.settings.sources_in_content)
            self.service.check_ready()
            self._check_mode(asked)
            if not asked.stream:
                answer = await self.service.run(self.service.assistant.ask, asked.question, asked.history, **asked.options)
                return JSONResponse(completion(answer, self.model, asked.sources_in_content))
            stream = await self.service.open_stream(asked.question, asked.history, **asked.options)
        except Exception as exc:
            return error_response(exc)
        return StreamingResponse(self._events(stream, asked), media_type="text/event-stream", headers=STREAM_HEADERS)

    def _check_mode(self, asked: ChatRequest) -> None:
        # An answer mode this server can't give is the client's to change (400), not a failure (502).
        try:
            self.service.assistant.resolve_answer_mode(asked.options.get("answer_mode"))
        except RagError as exc:
            raise ApiError(400, str(exc), param="answer_mode") from None

    async def _events(self, stream: AnswerStream, asked: ChatRequest):
        ident, created = new_id(), int(time.time())
        # The role first, at once: the client knows it is answered while the answer waits for a slot.
        yield sse(chunk(ident, created, self.model, {"role": "assistant", "content": ""}))
        shown = []
        try:
            async for piece in self.service.pieces(stream):
                shown.append(piece)
                yield sse(chunk(ident, created, self.model, {"content": piece}))
            answer = stream.answer
            if asked.sources_in_content and (tail := sources_text(answer)):
                yield sse(chunk(ident, created, self.model, {"content": tail}))
            yield sse(last_chunk(ident, created, self.model, answer, "".join(shown)))
        except Exception as exc:  # the status is sent already: the error travels as an event
            error = api_error(exc)
            yield sse(error_body(str(error), error.kind, error.param, error.code))
        yield sse("[DONE]")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 404:
        message = f"No route {request.url.path[:200]!r}: this server has GET /v1/models and POST /v1/chat/completions."
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path[:200]}."
    else:
        message = str(getattr(exc, "detail", "")) or "The request was refused."
    return JSONResponse(error_body(message, code="not_found" if status == 404 else None), status_code=status)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return error_response(exc)


def build_app(service: Service, settings: ServeSettings) -> Starlette:
    """The ASGI app of `rag serve` over ``service``."""
    api = OpenAIApi(service, settings)
    routes = [
        Route("/v1/models", api.models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", api.one_model, methods=["GET"]),
        Route("/v1/chat/completions", api.chat, methods=["POST"]),
        Route("/health", api.health, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _unexpected})


def serve(host: str | None = None, port: int | None = None) -> None:
    """`rag serve`: the endpoint on ``host:port`` (default: settings) until Ctrl-C. The index opens in the
    background, so clients get 503 (with Retry-After) rather than a refused connection meanwhile."""
    from rag.assistant import Assistant
    from rag.serve.access import check_exposure
    from rag.serve.run import bind, serve_app, shown_host
    from rag.settings import Settings

    settings = Settings()
    host = host or settings.serve.host
    port = settings.serve.port if port is None else port
    check_exposure(host, settings.serve.api_key)  # before any slow work: a refused address fails at once
    sock = bind(host, port)
    assistant = Assistant(settings)
    service = Service(assistant, settings.serve.concurrency)
    keyed = " (API key required)" if settings.serve.api_key.get_secret_value() else ""
    url = f"http://{shown_host(host)}:{sock.getsockname()[1]}/v1"

    def started() -> None:
        print(f"The OpenAI-compatible endpoint is on {url}, model {settings.serve.model!r}{keyed}. Ctrl-C stops it.", flush=True)
        service.start(announce=lambda line: print(line, flush=True))

    try:
        serve_app(build_app(service, settings.serve), sock, on_started=started)
    finally:
        assistant.close()
