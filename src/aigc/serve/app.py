"""The studio's FastAPI application: the embedded job runtime, auth, limits and JSON errors.

``create_app(config)`` wires a :class:`Studio` (model store, uploads, job store, workers,
generator) into the routes of :mod:`aigc.serve.routes` and serves the web UI from ``static/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from aigc import __version__
from aigc.core.errors import AigcError
from aigc.serve.config import ServeConfig
from aigc.serve.store import NotFound

__all__ = ["Studio", "create_app", "owner_of"]

STATIC = Path(__file__).parent / "static"


class Studio:
    """Everything the routes use, built from a :class:`~aigc.serve.config.ServeConfig`."""

    def __init__(self, config: ServeConfig) -> None:
        from aigc.serve.commands import Resolver
        from aigc.serve.generation import Generator
        from aigc.serve.jobs import JobStore
        from aigc.serve.store import ModelStore, inside
        from aigc.serve.uploads import UploadStore

        self.config = config
        if config.threads is not None:  # process-wide: the studio owns its process (aigc serve)
            import torch

            torch.set_num_threads(config.threads)
        state = config.state
        assert state is not None
        self.store = ModelStore(config.models)
        self.uploads = UploadStore(state / "uploads", config.limits)
        self.resolver = Resolver(self.uploads.path, self.store.path)
        self.outputs = state / "outputs"
        self.jobs_dir = state / "jobs"
        self.queue: Any = None
        if config.queue:  # scale-out: jobs in Redis, run by `aigc worker` processes
            from aigc.serve.redis_jobs import RedisJobStore
            from aigc.serve.scaleout import RedisQueue, connect

            conn = connect(config.queue)
            self.jobs: Any = RedisJobStore(conn)
            self.queue = RedisQueue(conn, config.limits)
        else:
            self.jobs = JobStore(state / "jobs.sqlite")
        self.generator = Generator(self.store, self.outputs, self.resolver, config.limits, config.device,
                                   batching=config.limits.batch > 1, threads=config.threads)
        self.inside = inside
        self.pool: Any = None

    def job_folder(self, job_id: str) -> Path:
        return self.inside(self.jobs_dir, job_id)

    def run_job(self, job: dict[str, Any], reporter: Any) -> dict[str, Any]:
        from aigc.serve.generation import use_threads
        from aigc.serve.runner import execute

        use_threads(self.generator.threads)  # this worker thread's own setting (see Generator)
        return execute(job["kind"], job["spec"], self.job_folder(job["id"]), store=self.store,
                       resolver=self.resolver, limits=self.config.limits, device=self.config.device)

    def start(self) -> None:
        from aigc.serve.runner import WorkerPool

        self.jobs.recover()
        if self.queue is not None:  # the workers are `aigc worker` processes
            return
        self.pool = WorkerPool(self.jobs, self.run_job, self.job_folder, self.config.workers,
                               self.config.event_interval_s)
        self.pool.start()

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.stop()
        if self.queue is not None:
            self.queue.stop()


def owner_of(studio: Studio, request: Request) -> str:
    """The caller: ``local`` without tokens, else a short hash of its bearer token (401 when wrong)."""
    tokens = studio.config.tokens
    if not tokens:
        return "local"
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    for token in tokens:
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return "user-" + hashlib.sha256(token.encode()).hexdigest()[:10]
    raise _Unauthorized()


class _Unauthorized(AigcError):
    pass


class _BodyLimit:
    """Refuses request bodies above ``limit`` bytes (413), whether announced or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _too_large(self.limit)(scope, receive, send)
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(self.limit)(scope, receive, send)


class _TooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": f"request body above this studio's limit of {limit} bytes "
                                  "(aigc serve --max-request-bytes)"}, status_code=413)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    @app.exception_handler(_Unauthorized)
    async def unauthorized(request: Request, exc: _Unauthorized) -> JSONResponse:
        return JSONResponse({"error": "this studio needs 'Authorization: Bearer TOKEN' (the --token it was "
                                      "started with)"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(AigcError)
    async def bad_input(request: Request, exc: AigcError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"error": f"{where or 'request'}: {first.get('msg', 'invalid request')}"},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"internal error ({type(exc).__name__}); this is a bug in aigc — "
                                      "the server log has the details"}, status_code=500)


def create_app(config: ServeConfig, studio: Studio | None = None) -> FastAPI:
    """The studio app; workers start with the app's lifespan and stop with it."""
    from aigc.serve.routes import router

    studio = studio or Studio(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        studio.start()
        try:
            yield
        finally:
            studio.stop()

    # no CDN-hosted Swagger/ReDoc pages (the machine may be offline): /docs is a local page reading /openapi.json
    app = FastAPI(title="aigc studio", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Train, generate and evaluate with aigc models over HTTP. Routes live under "
                              "/api/; the web UI is at /. Errors are {\"error\": message}.")
    app.state.studio = studio
    _install_errors(app)
    app.include_router(router)
    if config.cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(_BodyLimit, limit=config.limits.request_bytes)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html", media_type="text/html")

    return app
