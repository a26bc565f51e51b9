"""The routes under ``/api/``: tasks, models, generate, uploads and jobs (with SSE progress)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, StreamingResponse

from aigc.core.errors import BadInputError
from aigc.serve import schemas as S
from aigc.serve.store import NotFound, safe_name

__all__ = ["router"]

ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": S.ErrorBody} for code in (400, 401, 404, 413, 422, 429)}


def studio(request: Request) -> Any:
    return request.app.state.studio


def caller(request: Request) -> str:
    from aigc.serve.app import owner_of

    owner = owner_of(studio(request), request)
    request.state.owner = owner
    return owner


router = APIRouter(prefix="/api", dependencies=[Depends(caller)], responses=ERRORS)


# ---------------------------------------------------------------------- tasks and models
@router.get("/tasks", response_model=list[S.TaskInfo], summary="registered tasks")
def list_tasks() -> list[dict[str, Any]]:
    """Every task of the registry, e.g. ``curl localhost:8000/api/tasks``."""
    from aigc.core.registry import tasks

    return [{"name": t.name, "summary": t.summary, "media": list(t.media),
             "architectures": sorted(t.architectures), "train_example": t.train_example,
             "commands": ["generate"] * bool(t.generate_parser) + sorted(t.model_commands)} for t in tasks()]


@router.get("/models", response_model=list[S.ModelSummary], summary="models in the studio's folder")
def list_models(request: Request) -> list[dict[str, Any]]:
    st = studio(request)
    out = []
    for name in st.store.names():
        try:
            out.append(st.store.summary(name))
        except BadInputError:  # a half-written or foreign folder is not listed
            continue
    return out


@router.get("/models/{name}", response_model=S.ModelDetail, summary="a model's task, architecture and recipe")
def get_model(name: str, request: Request) -> dict[str, Any]:
    return studio(request).store.detail(name)


@router.get("/models/{name}/sample", response_class=FileResponse, summary="the model's newest preview image",
            responses={200: {"content": {"image/png": {}}}})
def model_sample(name: str, request: Request) -> FileResponse:
    path = studio(request).store.sample(name)
    if path is None:
        raise NotFound(f"model {name!r} has no preview image yet")
    return FileResponse(path, media_type="image/png")


@router.get("/models/{name}/form", response_model=S.CommandForm, summary="the parameters a model's command takes")
def model_form(name: str, request: Request, command: str = "generate") -> dict[str, Any]:
    """The flags of ``aigc generate MODEL`` (or of a model command such as ``inpaint``) as fields, e.g.
    ``curl localhost:8000/api/models/my-dcgan/form``; send them back as ``params`` to the generate route."""
    return studio(request).generator.form(name, command)


@router.get("/stats", response_model=S.Stats, summary="batches run, model threads and memory of the studio")
def stats(request: Request) -> dict[str, Any]:
    """E.g. ``curl localhost:8000/api/stats``: ``{"batches": {"1": 3, "16": 40}, "threads": 2, "rss_mb": 612.5}``."""
    from aigc.serve.generation import resident_mb

    generator = studio(request).generator
    hist = generator.batches.histogram
    return {"batches": {str(k): v for k, v in sorted(hist.items())}, "threads": generator.threads,
            "rss_mb": resident_mb()}


# ---------------------------------------------------------------------- generate
@router.post("/models/{name}/generate", response_model=S.GenerateResult, summary="generate with a model",
             responses={200: {"content": {"text/event-stream": {}}}})
def generate(name: str, body: S.GenerateRequest, request: Request) -> Any:
    """Runs ``aigc generate MODEL`` with ``params`` as its flags, e.g. ``{"params": {"n": 4, "seed": 1}}``;
    returns the files it wrote (PNG, WAV, MIDI, GIF, text, JSON, each carrying its recipe). With
    ``"stream": true`` a text model sends its new text as server-sent events (``data: {"text": ...}``)."""
    st = studio(request)
    if body.stream:
        pieces = st.generator.stream(name, body.prompt, body.params)
        first = next(pieces, None)  # errors in the parameters surface here, as a 400
        return StreamingResponse(_sse_text(first, pieces), media_type="text/event-stream")
    out_id, files = st.generator.run(name, body.params, command=body.command, fmt=body.format)
    return {"id": out_id, "files": [{"name": f.name, "url": f"/api/outputs/{out_id}/{f.name}"} for f in files]}


def _sse_text(first: str | None, pieces: Iterator[str]) -> Iterator[str]:
    if first is not None:
        yield f"data: {json.dumps({'text': first})}\n\n"
        for piece in pieces:
            yield f"data: {json.dumps({'text': piece})}\n\n"
    yield "event: done\ndata: {}\n\n"


@router.get("/outputs/{out_id}/{file}", response_class=FileResponse, summary="a generated file")
def output_file(out_id: str, file: str, request: Request) -> FileResponse:
    st = studio(request)
    path = st.inside(st.outputs, out_id, file)
    if not path.is_file():
        raise NotFound(f"no output file {out_id}/{file}")
    return FileResponse(path)


# ---------------------------------------------------------------------- uploads
@router.post("/uploads", response_model=S.UploadResult, summary="upload an image, MIDI or WAV")
async def upload(request: Request, file: Annotated[UploadFile, File()],
                 kind: Annotated[str, Form()] = "image") -> dict[str, Any]:
    """Decoded and size-checked before anything uses it; pass the id as ``upload:ID`` in params."""
    st = studio(request)
    data = await file.read(st.config.limits.request_bytes + 1)
    upload_id, info = await anyio.to_thread.run_sync(st.uploads.add, data, kind, file.filename or "")
    return {"id": upload_id, "kind": kind, "bytes": len(data), "info": info}


# ---------------------------------------------------------------------- jobs
def _job(st: Any, job_id: str, owner: str) -> dict[str, Any]:
    job = st.jobs.get(safe_name(job_id, "job id"))
    if job is None or (owner != "local" and job["owner"] != owner):
        raise NotFound(f"no job {job_id!r}")
    folder = st.job_folder(job["id"])
    names = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    job["files"] = [{"name": n, "url": f"/api/jobs/{job['id']}/files/{n}"} for n in names]
    return job


def _validate_spec(body: S.JobRequest) -> dict[str, Any]:
    need = {"train": ("task", "model"), "generate": ("model",), "eval": ("eval",)}[body.kind]
    missing = [k for k in need if not getattr(body, k)]
    if missing:
        raise BadInputError(f"a {body.kind} job needs {', '.join(missing)}")
    spec = body.model_dump(exclude_none=True, exclude={"kind"})
    if body.model:
        safe_name(body.model, "model name")
    return spec


@router.post("/jobs", response_model=S.Job, status_code=201, summary="submit a train, generate or eval job")
def submit_job(body: S.JobRequest, request: Request) -> dict[str, Any]:
    """E.g. ``{"kind": "train", "task": "image-gen", "model": "my-dcgan", "params": {"steps": 200}}``."""
    st, owner = studio(request), request.state.owner
    spec = _validate_spec(body)
    if body.kind == "train":
        from aigc.core.registry import task

        task(body.task)
        if st.store.new_path(body.model).exists():
            raise BadInputError(f"a model named {body.model!r} exists; choose another name (or resume its job)")
    elif body.kind == "generate":
        st.store.path(body.model)
    if st.jobs.active_count(owner) >= st.config.limits.jobs_per_user:
        from fastapi import HTTPException

        raise HTTPException(429, f"you have {st.config.limits.jobs_per_user} jobs queued or running "
                                 "(aigc serve --max-jobs-per-user); wait for one or cancel it")
    job_id = st.jobs.add(body.kind, owner, spec)
    if st.queue is not None:
        st.queue.enqueue(job_id)
    return _job(st, job_id, owner)


@router.get("/jobs", response_model=list[S.Job], summary="the job queue")
def list_jobs(request: Request) -> list[dict[str, Any]]:
    st, owner = studio(request), request.state.owner
    return [_job(st, j["id"], owner) for j in st.jobs.list(None if owner == "local" else owner)]


@router.get("/jobs/{job_id}", response_model=S.Job, summary="one job: state, queue position, result, files")
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    return _job(studio(request), job_id, request.state.owner)


@router.post("/jobs/{job_id}/cancel", response_model=S.Job, summary="cancel a job")
def cancel_job(job_id: str, request: Request) -> dict[str, Any]:
    """A queued job is cancelled at once; a running one stops at its next step (training keeps a
    checkpoint) or next denoising step / token."""
    st, owner = studio(request), request.state.owner
    _job(st, job_id, owner)
    st.jobs.request_cancel(job_id)
    if st.queue is not None:
        st.queue.cancel(job_id)
    return _job(st, job_id, owner)


@router.post("/jobs/{job_id}/resume", response_model=S.Job, summary="resume an interrupted or cancelled training job")
def resume_job(job_id: str, body: S.ResumeRequest, request: Request) -> dict[str, Any]:
    """Queues the training again with ``--resume`` (the stored settings; optionally a new ``steps``)."""
    st, owner = studio(request), request.state.owner
    job = _job(st, job_id, owner)
    if job["kind"] != "train" or job["state"] not in ("interrupted", "cancelled", "failed"):
        raise BadInputError(f"job {job_id} is a {job['state']} {job['kind']} job; only stopped training jobs resume")
    steps = body.steps or job["spec"].get("params", {}).get("steps")
    spec = {**job["spec"], "resume": True, "params": {"steps": steps} if steps else {}}
    st.jobs.requeue(job_id, spec)
    if st.queue is not None:
        st.queue.enqueue(job_id)
    return _job(st, job_id, owner)


@router.get("/jobs/{job_id}/events", summary="a job's progress as server-sent events",
            responses={200: {"content": {"text/event-stream": {}}}}, response_class=StreamingResponse)
async def job_events(job_id: str, request: Request, after: int = 0) -> StreamingResponse:
    """``data: {"kind": "train", "done": step, "total": steps, "logs": {...}, "eta_s": ...}`` and the like,
    in order (``id:`` is the event number; reconnect with ``?after=N`` or Last-Event-ID); ends when the
    job has finished."""
    st = studio(request)
    _job(st, job_id, request.state.owner)
    last = request.headers.get("last-event-id", "")
    start = int(last) if last.isdigit() else max(0, after)
    return StreamingResponse(_event_stream(st, job_id, start), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


async def _event_stream(st: Any, job_id: str, after: int) -> AsyncIterator[str]:
    while True:
        version = st.jobs.version()
        events = st.jobs.events(job_id, after)
        for event in events:
            after = event["seq"]
            yield f"id: {after}\ndata: {json.dumps(event)}\n\n"
        job = st.jobs.get(job_id)
        if job is None or (job["state"] not in ("queued", "running") and not events):
            yield "event: end\ndata: {}\n\n"
            return
        if not events:
            changed = await anyio.to_thread.run_sync(st.jobs.wait_change, version, 10.0, abandon_on_cancel=True)
            if changed == version:
                yield ": keep-alive\n\n"


@router.get("/jobs/{job_id}/files/{file}", response_class=FileResponse, summary="a file a job wrote")
def job_file(job_id: str, file: str, request: Request) -> FileResponse:
    st = studio(request)
    job = _job(st, job_id, request.state.owner)
    path = st.inside(st.job_folder(job["id"]), file)
    if not path.is_file():
        raise NotFound(f"job {job_id} has no file {file!r}")
    return FileResponse(path)
