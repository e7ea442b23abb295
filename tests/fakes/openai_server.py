"""A fake OpenAI-compatible API on 127.0.0.1, driven through the real ``openai`` SDK.

``FakeOpenAI`` serves, on a free port in a thread, the two endpoints we call, with bodies shaped
as OpenAI documents them:

- ``POST /v1/chat/completions`` -> ``{"id": "chatcmpl-…", "object": "chat.completion", "created",
  "model", "choices": [{"index": 0, "message": {"role": "assistant", "content", "tool_calls":
  [{"id", "type": "function", "function": {"name", "arguments"}}]}, "finish_reason",
  "logprobs": null}], "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}``
- ``POST /v1/embeddings`` -> ``{"object": "list", "data": [{"object": "embedding", "index",
  "embedding"}], "model", "usage": {"prompt_tokens", "total_tokens"}}``; the SDK asks for
  ``encoding_format="base64"`` by default and gets little-endian float32 in base64, like OpenAI's.

Errors come in OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``: a wrong bearer
key -> 401 ``invalid_api_key``; ``script(...)`` queues what the next chat calls answer (a reply,
tool calls, an HTTP error such as 429 or 500, or a delay longer than the client's timeout);
without a script the chat answers ``default_reply``. Every request is recorded in ``requests``
(path, headers, parsed JSON body).

Embeddings are deterministic bags of hashed word stems (accents folded), L2-normalised, so texts
sharing words are close in cosine distance: good enough to test hybrid retrieval for real.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import struct
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "sk-test-fake-0123456789abcdef"
MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"

_ids = itertools.count(1)


def openai_error(message: str, *, type_: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return [w[:6] for w in re.findall(r"[a-z0-9]+", text) if len(w) > 2]


def fake_embedding(text: str, dims: int) -> list[float]:
    vector = [0.0] * dims
    for word in _words(text):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dims
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


@dataclass
class Step:
    """What one chat call answers."""

    content: str = ""
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, raw JSON arguments)
    status: int = 200
    error_message: str = ""
    error_code: str | None = None
    delay: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def reply(content: str, **kw) -> Step:
    return Step(content=content, **kw)


def tool_call(name: str, arguments: dict | str, **kw) -> Step:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return Step(tool_calls=[(name, raw)], **kw)


def error(status: int, message: str = "", code: str | None = None, **kw) -> Step:
    return Step(status=status, error_message=message, error_code=code, **kw)


class FakeOpenAI:
    def __init__(self, *, api_key: str = API_KEY, native_dims: int = 1536, default_reply: str = "Certo!"):
        self.api_key = api_key
        self.native_dims = native_dims  # the size answered when the request has no ``dimensions``
        self.default_reply = default_reply
        self.requests: list[dict] = []
        self._script: list[Step] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.embedding_failures: list[int] = []  # statuses the next embedding calls answer

    # -- control ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *steps: Step) -> None:
        with self._lock:
            self._script.extend(steps)

    def chat_requests(self) -> list[dict]:
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def embedding_requests(self) -> list[dict]:
        return [r["body"] for r in self.requests if r["path"].endswith("/embeddings")]

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.embedding_failures.clear()

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None):
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    return self._send(400, openai_error("We could not parse the JSON body of your request.",
                                                        type_="invalid_request_error", code=None))
                with fake._lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                auth = self.headers.get("Authorization", "")
                if auth != f"Bearer {fake.api_key}":
                    shown = auth.removeprefix("Bearer ")[-4:]
                    return self._send(401, openai_error(
                        f"Incorrect API key provided: sk-...{shown}. You can find your API key at "
                        "https://platform.openai.com/account/api-keys.", type_="invalid_request_error",
                        code="invalid_api_key"))
                if self.path.rstrip("/").endswith("/chat/completions"):
                    return fake._chat(self, body)
                if self.path.rstrip("/").endswith("/embeddings"):
                    return fake._embeddings(self, body)
                return self._send(404, openai_error(f"Unknown request URL: POST {self.path}.",
                                                    type_="invalid_request_error", code="unknown_url"))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- endpoints ---------------------------------------------------------------------------------
    def _chat(self, handler, body: dict):
        with self._lock:
            step = self._script.pop(0) if self._script else Step(content=self.default_reply)
        if step.delay:
            time.sleep(step.delay)
        if step.status != 200:
            kinds = {429: ("requests", "rate_limit_exceeded",
                           "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3."),
                     500: ("server_error", None, "The server had an error while processing your request."),
                     503: ("server_error", None, "The engine is currently overloaded, please try again later."),
                     400: ("invalid_request_error", None, "Invalid request.")}
            type_, code, message = kinds.get(step.status, ("api_error", None, "Error."))
            headers = {"retry-after": "0"} if step.status == 429 else None
            return handler._send(step.status, openai_error(step.error_message or message, type_=type_,
                                                           code=step.error_code or code), headers)
        prompt_tokens = step.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = sum(len(str(m.get("content") or "")) for m in body.get("messages", [])) // 4 + 1
        message: dict = {"role": "assistant", "content": step.content or None, "refusal": None}
        if step.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{next(_ids):06d}", "type": "function", "function": {"name": n, "arguments": a}}
                for n, a in step.tool_calls]
        completion_tokens = step.completion_tokens
        if completion_tokens is None:
            completion_tokens = len(step.content) // 4 + 1 + sum(len(a) // 4 for _, a in step.tool_calls)
        handler._send(200, {
            "id": f"chatcmpl-{next(_ids):08d}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", MODEL), "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "tool_calls" if step.tool_calls else "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    def _embeddings(self, handler, body: dict):
        with self._lock:
            failure = self.embedding_failures.pop(0) if self.embedding_failures else None
        if failure:
            return handler._send(failure, openai_error("The server had an error while processing your request.",
                                                       type_="server_error", code=None))
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
            return handler._send(400, openai_error("'input' must be a string or a list of strings.",
                                                   type_="invalid_request_error", code=None, param="input"))
        dims = int(body.get("dimensions") or self.native_dims)
        data = []
        for index, text in enumerate(inputs):
            vector = fake_embedding(text, dims)
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
                data.append({"object": "embedding", "index": index, "embedding": encoded})
            else:
                data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(len(t) // 4 + 1 for t in inputs)
        handler._send(200, {"object": "list", "data": data, "model": body.get("model", EMBEDDING_MODEL),
                            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
