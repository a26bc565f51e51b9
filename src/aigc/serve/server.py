"""Running the studio: in the foreground (``aigc serve``) or in a thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
from typing import Any

from aigc.serve.config import ServeConfig

__all__ = ["ThreadedServer", "free_port", "serve"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _uvicorn_config(config: ServeConfig, app: Any, log_level: str) -> Any:
    import uvicorn

    return uvicorn.Config(app, host=config.host, port=config.port, log_level=log_level, access_log=False,
                          timeout_graceful_shutdown=5, limit_concurrency=1024)


def serve(config: ServeConfig) -> None:
    """Serve until Ctrl-C."""
    import uvicorn

    from aigc.serve.app import create_app

    app = create_app(config)
    print(f"aigc studio on http://{config.host}:{config.port}/ (models in {config.models}); Ctrl-C stops it",
          flush=True)
    uvicorn.Server(_uvicorn_config(config, app, "warning")).run()


class ThreadedServer:
    """The studio on a loopback port in a background thread: ``with ThreadedServer(cfg) as url: ...``."""

    def __init__(self, config: ServeConfig, log_level: str = "warning") -> None:
        import uvicorn

        from aigc.serve.app import create_app

        self.config = config
        self.app = create_app(config)
        self.studio = self.app.state.studio
        self.server = uvicorn.Server(_uvicorn_config(config, self.app, log_level))
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, name="aigc-studio", daemon=True)
        self.url = f"http://{config.host}:{config.port}"

    def start(self) -> str:
        self.thread.start()
        # wait on the server's own flag, bounded by the thread being alive
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the studio failed to start (port taken?)")
            self.thread.join(0.01)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
