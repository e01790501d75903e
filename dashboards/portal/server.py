"""Serving the portal: a threaded WSGI server (waitress when installed, else Werkzeug's)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from infermeter.dashboards.portal.app import create_app

log = logging.getLogger("infermeter.portal")


class PortalServer:
    """The portal on a real socket; ``port=0`` picks a free port (see :attr:`url`)."""

    def __init__(self, settings, store, host: str | None = None, port: int | None = None) -> None:
        from werkzeug.serving import make_server

        cfg = settings.portal
        self.app = create_app(settings, store)
        self._server = make_server(host or cfg.host, cfg.port if port is None else port, self.app.server, threaded=True)
        self.host = host or cfg.host
        self.port = self._server.server_port
        self.url = f"http://{_url_host(self.host)}:{self.port}{cfg.base_path}"
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._warmer: threading.Thread | None = None
        self.data = self.app.server.config["portal_data"]

    def _warm_loop(self) -> None:
        """Keep the slow part (the latest month's SLO reports) computed ahead of the requests."""
        every = max(5.0, self.data.settings.portal.slo_cache_ttl_s * 0.8)
        while not self._stop.is_set():
            try:
                self.data.warm()
            except Exception:  # never let the warmer kill the portal; requests compute on demand
                log.exception("portal: background refresh failed")
            self._stop.wait(every)

    def start_warmer(self) -> None:
        if self.data.settings.portal.slo_cache_ttl_s > 0 and self.data.settings.portal.slo_specs is not None:
            self._warmer = threading.Thread(target=self._warm_loop, name="portal-warmer", daemon=True)
            self._warmer.start()

    def start(self, warm: bool = True) -> "PortalServer":
        if warm:
            self.start_warmer()
        self._thread = threading.Thread(target=self._server.serve_forever, name="portal", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.start_warmer()
        self._server.serve_forever()

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(settings, store, announce: Callable[[str], None] = print) -> None:
    """Serve until interrupted."""
    server = PortalServer(settings, store)
    announce(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._server.server_close()
