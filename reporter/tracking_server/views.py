"""The site at `/` under --auth: each caller sees only the experiments and registered models
they may read.

A caller who may read every experiment and every registered model gets the server's site.
Anyone else gets a build of the site made of the experiments and models they may read (the
same build as `tracker-report build --experiment ...`, with the server's profile): one build
per distinct set of readable experiments and models, kept in a folder beside the site,
rebuilt in the background once it is older than the rebuild interval. The build's pages hold
nothing of another experiment or model, so no page, chart or download of such a view can show
one (a readable model's version whose run is in an unreadable experiment is shown without
its run).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reporter.core.access import Identity, exact_pattern
from reporter.store.protocol import AbstractStore
from reporter.tracking_server.guard import Guard, identity_of
from reporter.view.config import BuildConfig
from reporter.view.publish import matches

log = logging.getLogger(__name__)

NOTHING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>No experiments</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>No experiments to show</h1>
<p>There is no experiment or registered model on this server that you may read. Ask a
manager of an experiment or a model, or an admin, for access.</p>
</body></html>
"""


MODELS_FRESH = 1.0  # seconds a listing of the registered models serves the site's requests


class SiteViews:
    """Per-reader builds of the site, and the ASGI app that serves the right one."""

    MAX_VIEWS = 16  # views kept on disk; the least recently served ones are removed

    def __init__(
        self,
        config: BuildConfig,
        store: AbstractStore,
        guard: Guard,
        site: ASGIApp,
        files: Callable[[str], ASGIApp],
        max_age: float,
    ) -> None:
        self.config = config
        self.store = store
        self.guard = guard
        self.site = site  # the server's whole site
        self.files = files  # serves a folder
        self.max_age = max_age
        self.root = Path(f"{Path(config.out).absolute()}.views")
        self._apps: dict[str, ASGIApp] = {}
        self._built: dict[str, float] = {}  # folder -> monotonic time of its last build
        self._locks: dict[str, asyncio.Lock] = {}
        self._refreshing: set[str] = set()
        self._used: dict[str, float] = {}  # folder -> monotonic time it was last served
        self._guard_lock = threading.Lock()
        self._model_list: tuple[float, list[Any]] | None = None  # (when read, the models)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        who = identity_of(scope)
        app = self.site if who is None else await self.app_for(who)

        async def private(message: Message) -> None:
            if message["type"] == "http.response.start":  # one reader's pages: no shared cache
                message["headers"] = [
                    *message.get("headers", []),
                    (b"cache-control", b"private, no-store"),
                    (b"vary", b"Authorization, Cookie"),
                ]
            await send(message)

        await app(scope, receive, private)

    async def app_for(self, who: Identity) -> ASGIApp:
        experiments = await run_in_threadpool(self.store.list_experiments)
        readable = sorted(
            e.experiment_id
            for e in experiments
            if self.guard.permission(who, e.experiment_id, e.name).can_read
        )
        models = [m.name for m in await run_in_threadpool(self._models)]
        readable_models = sorted(n for n in models if self.guard.model_permission(who, n).can_read)
        if len(readable) == len(experiments) and len(readable_models) == len(models):
            return self.site
        view = (tuple(readable), tuple(readable_models))
        key = hashlib.sha256(repr(view).encode()).hexdigest()[:20]
        folder = str(self.root / key)
        if not readable and not readable_models:
            await run_in_threadpool(self._nothing, folder)
        elif folder not in self._built:
            lock = self._locks.setdefault(folder, asyncio.Lock())
            async with lock:  # the first caller builds; the others wait for that build
                if folder not in self._built:
                    await run_in_threadpool(self._build, folder, view)
        elif time.monotonic() - self._built[folder] > self.max_age:
            self._refresh(folder, view)
        self._used[folder] = time.monotonic()
        app = self._apps.get(folder)
        if app is None:
            app = self._apps[folder] = self.files(folder)
        return app

    def _models(self) -> list[Any]:
        """The registered models, read at most once a second (every request for the site,
        its static files included, asks: a listing each would cost the store a LIST)."""
        now = time.monotonic()
        cached = self._model_list
        if cached is not None and now - cached[0] < MODELS_FRESH:
            return cached[1]
        models = self.store.model_registry().list_models()
        self._model_list = (now, models)
        return models

    def _build(self, folder: str, view: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
        """Build a reader's view: their experiments by id (never by a name that looks like
        an id) and the registered models they may read (by exact name, among those the site
        shows), without the Markdown reports, which may discuss any experiment."""
        import shutil

        from reporter.site.build import build

        experiment_ids, model_names = view
        no_reports = self.root / "_no-reports"
        no_reports.mkdir(parents=True, exist_ok=True)
        config = dataclasses.replace(
            self.config,
            out=folder,
            experiments=tuple(f"id:{e}" for e in experiment_ids),
            # no experiment: none published (an empty choice would publish them all)
            exclude_experiments=self.config.exclude_experiments if experiment_ids else ("*",),
            registered_models=tuple(
                exact_pattern(n) for n in model_names if matches(n, self.config.registered_models)
            ),
            reports=str(no_reports),
        )
        build(config)
        with self._guard_lock:
            self._built[folder] = time.monotonic()
            self._used[folder] = time.monotonic()
            stale = sorted(self._used, key=self._used.__getitem__)[: -self.MAX_VIEWS]
            for old in stale:  # the least recently used views go: disk stays bounded
                self._used.pop(old, None)
                self._built.pop(old, None)
                self._apps.pop(old, None)
        for old in stale:
            shutil.rmtree(old, ignore_errors=True)

    def _refresh(self, folder: str, view: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
        """Rebuild a view in the background; callers get the current one meanwhile."""
        with self._guard_lock:
            if folder in self._refreshing:
                return
            self._refreshing.add(folder)

        def work() -> None:
            try:
                self._build(folder, view)
            except Exception as exc:  # keep serving the last good build
                log.warning("rebuilding a reader's view of the site failed: %s", exc)
                self._built[folder] = time.monotonic()
            finally:
                with self._guard_lock:
                    self._refreshing.discard(folder)

        threading.Thread(target=work, name="reporter-site-view", daemon=True).start()

    def _nothing(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        page = Path(folder) / "index.html"
        text = NOTHING
        if not page.exists() or page.read_text() != text:
            tmp = page.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, page)
        self._built[folder] = time.monotonic()
