"""What stands between the network and the search module: a bounded request body (by its declared
length, and by counting what arrives when none is declared), a deadline on each piece of a body
(slow clients), uploads saved under a safe name after a type check, and the API key."""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, UploadFile

from catalog.decode import safe_name

AUDIO_TYPES = frozenset({"wav", "flac", "ogg", "mp3", "m4a"})
IMAGE_TYPES = frozenset({"jpg", "jpeg", "png", "webp"})
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class BodyGuard:
    """ASGI middleware: 413 for a body over `max_bytes` (declared or counted), 400 for a bad
    Content-Length, 408 when a body stalls for `idle_s` between pieces. Memory per request stays
    bounded whatever the client sends."""

    def __init__(self, app: Any, max_bytes: int, idle_s: float = 30.0) -> None:
        self.app, self.max_bytes, self.idle_s = app, max_bytes, idle_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            if declared is not None and int(declared) > self.max_bytes:
                raise _Refused(413, f"request body of {int(declared)} bytes is over the {self.max_bytes} byte limit")
        except ValueError:
            await _answer(send, 400, "Content-Length is not a number")
            return
        except _Refused as exc:
            await _answer(send, exc.status, exc.reason)
            return
        seen = 0
        refused: _Refused | None = None  # set when the body broke a rule; our answer replaces the app's
        answered = False

        async def counted() -> Message:
            nonlocal seen, refused
            try:
                msg = await asyncio.wait_for(receive(), self.idle_s)
            except TimeoutError:
                refused = _Refused(408, f"the request body stalled for {self.idle_s:g} s")
                raise refused from None
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    refused = _Refused(413, f"request body is over the {self.max_bytes} byte limit")
                    raise refused
            return msg

        async def watched(msg: Message) -> None:
            nonlocal answered
            if refused is None:
                answered = answered or msg["type"] == "http.response.start"
                await send(msg)
            elif not answered and msg["type"] == "http.response.start":  # the app's own error for a body we cut
                answered = True
                await _answer(send, refused.status, refused.reason)

        try:
            await self.app(scope, counted, watched)
        except _Refused as exc:
            if not answered:
                await _answer(send, exc.status, exc.reason)


async def _answer(send: Send, status: int, reason: str) -> None:
    body = json.dumps({"error": reason, "status": status}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def save_upload(upload: UploadFile, directory: Path, max_bytes: int) -> tuple[Path, str]:
    """The upload under its own (safe) name in `directory`, and whether it is audio or image; 415
    for a type we do not take (by suffix and declared content type), 413 over `max_bytes`. What the
    file really holds is checked later, like ingest input, when it is decoded."""
    name = upload.filename or "upload"
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in AUDIO_TYPES | IMAGE_TYPES:
        raise HTTPException(415, f"{name}: .{suffix or '?'} is not a type we take "
                                 f"(sounds: {', '.join(sorted(AUDIO_TYPES))}; photos: {', '.join(sorted(IMAGE_TYPES))})")
    kind = "audio" if suffix in AUDIO_TYPES else "image"
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream" and not declared.startswith(f"{kind}/"):
        raise HTTPException(415, f"{name}: declared as {declared}, but .{suffix} is {kind}")
    path = directory / safe_name(name)
    written = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 16):
            written += len(chunk)
            if written > max_bytes:
                raise HTTPException(413, f"{name}: over the {max_bytes // 1024**2} MB upload limit")
            out.write(chunk)
    if written == 0:
        raise HTTPException(400, f"{name}: the file is empty")
    return path, kind


def scratch() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="vita-api-")


class ApiKey:
    """Reads need the key when one is set; writes always need it (none set: writes are off)."""

    def __init__(self, key: str | None) -> None:
        self.key = key

    def _given(self, request: Request) -> str:
        auth = request.headers.get("authorization", "")
        return request.headers.get("x-api-key") or (auth[7:] if auth.lower().startswith("bearer ") else "")

    def read(self, request: Request) -> None:
        if self.key is not None and not secrets.compare_digest(self._given(request).encode(), self.key.encode()):
            raise HTTPException(401, "missing or wrong API key (X-API-Key header)")

    def write(self, request: Request) -> None:
        if self.key is None:
            raise HTTPException(403, "writes are off: start `vita api` with VITA_API_KEY set")
        self.read(request)
