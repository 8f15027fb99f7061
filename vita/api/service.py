"""What the API's handlers share: the catalog and searcher this process serves (searches admitted
a few at a time, a bounded queue behind them), uploads saved for the length of a request, and the
search options form."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from fastapi import HTTPException, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from catalog.errors import NotFoundError, VitaError
from catalog.facade import Catalog
from indexer.search import Searcher
from indexer.search.forward import TextForward
from indexer.store import StoreError
from vita.api.guard import save_upload, scratch
from vita.api.schemas import SearchOptions
from vita.settings import Settings

log = logging.getLogger("vita.api")
T = TypeVar("T")


class Busy(HTTPException):
    """Every slot is taken and the queue is full: 503 with when to try again."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(503, f"busy: every search slot is taken and {retry_after_s} s of queries wait; retry",
                         headers={"Retry-After": str(retry_after_s)})


class Admission:
    """At most `parallel` searches run at once (the store's reads and the model's forward both take
    concurrent callers); up to `queue` more wait their turn; past that a request is refused at once
    with 503 and Retry-After instead of piling up behind the others."""

    def __init__(self, parallel: int, queue: int, retry_after_s: int = 1) -> None:
        self.slots = threading.BoundedSemaphore(parallel)
        self.queue, self.retry_after_s = queue, retry_after_s
        self.waiting = 0
        self._count = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self.slots.acquire(blocking=False):
            with self._count:
                if self.waiting >= self.queue:
                    raise Busy(self.retry_after_s)
                self.waiting += 1
            try:
                self.slots.acquire()
            finally:
                with self._count:
                    self.waiting -= 1
        try:
            yield
        finally:
            self.slots.release()


class Service:
    """The catalog and the searcher this process serves; `error` says why it is not ready."""

    def __init__(self, settings: Settings, searcher: Searcher | None = None) -> None:
        self.settings = settings
        self.max_upload = settings.query_limits().max_file_bytes
        self.catalog: Catalog = searcher.catalog if searcher else settings.open_catalog(limits=settings.query_limits())
        self.searcher, self._own = searcher, searcher is None
        self.error: str | None = None
        self.admission = Admission(settings.api_parallel, settings.api_queue)
        self.forward: TextForward | None = None

    def open(self) -> None:
        """Open the index and load the model once (a first query would otherwise pay for it)."""
        if self.searcher is None:
            try:
                self.searcher = Searcher(self.catalog, self.settings.store_config(), self.settings.corpus)
            except StoreError as exc:
                self.error = f"{exc} (then restart `vita api`)"
                log.error("not ready: %s", self.error)
                return
        _ = self.searcher.model
        import torch  # loaded with the model above

        # the cores are shared among the searches admitted at once: one forward need not take them all
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.settings.api_parallel))
        if self.settings.api_text_processes and self.forward is None:
            self.forward = TextForward(self.searcher.model_ref, self.searcher.preset, self.settings.api_text_processes)
            self.searcher.query.text_forward = self.forward

    def close(self) -> None:
        if self.forward is not None:
            self.forward.close()
            self.forward = None
        if self._own:
            if self.searcher is not None:
                self.searcher.close()
            self.catalog.close()

    def run(self, fn: Callable[[Searcher], T]) -> T:
        if self.searcher is None:
            raise HTTPException(503, f"not ready: {self.error}")
        with self.admission.slot():
            return fn(self.searcher)


def reason(exc: RequestValidationError | ValidationError) -> str:
    """A validation failure as one line: where and what, for the first five problems."""
    return "; ".join(f"{'.'.join(str(x) for x in e['loc'] if x != 'body') or 'body'}: {e['msg']}" for e in exc.errors()[:5])


@contextmanager
def uploaded(service: Service, file: UploadFile) -> Iterator[tuple[Path, str]]:
    """The upload saved in a scratch directory for the block; a refusal names the app's file, not ours."""
    with scratch() as tmp:
        try:
            yield save_upload(file, Path(tmp), service.max_upload)
        except VitaError as exc:
            raise HTTPException(404 if isinstance(exc, NotFoundError) else 400,
                                str(exc).replace(f"{tmp}/", "")) from None


def search_options(text: str | None) -> SearchOptions:
    try:
        return SearchOptions.model_validate_json(text) if text else SearchOptions()
    except ValidationError as exc:
        raise HTTPException(422, f"options: {reason(exc)}") from None
