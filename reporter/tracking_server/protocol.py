"""uvicorn's HTTP protocol (httptools), with a deadline for each request's head.

uvicorn closes a keep-alive connection that stays idle after a response, but not one that
never sends a whole request line and headers: an idle socket, or one that trickles a byte now
and then, stays open for good, and a few thousand of them use up the server's file
descriptors (a slowloris attack). This protocol closes a connection whose request head does
not arrive whole within HEAD_TIMEOUT seconds of the connection or of the previous response.
A body may take as long as it needs (a large upload), as in nginx's client_header_timeout.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_TIMEOUT = 10.0  # seconds for a request line and its headers


class TimedHeadProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes connections whose request head is late."""

    _head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)  # the next request's head has arrived already
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
