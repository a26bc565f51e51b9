"""Pydantic models of every request and response (the OpenAPI spec is generated from them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CommandForm",
    "ErrorBody",
    "FormField",
    "GenerateRequest",
    "GenerateResult",
    "Job",
    "JobRequest",
    "ModelDetail",
    "ModelSummary",
    "OutputFile",
    "ResumeRequest",
    "Stats",
    "TaskInfo",
    "UploadResult",
]

Params = dict[str, Any]


class ErrorBody(BaseModel):
    error: str = Field(description="what went wrong and what to do, in one line")


class TaskInfo(BaseModel):
    name: str
    summary: str
    media: list[str]
    architectures: list[str]
    commands: list[str] = Field(description="what its models can do: generate and model commands (inpaint, ...)")
    train_example: str


class ModelSummary(BaseModel):
    name: str
    task: str
    architecture: str
    sample_url: str | None = None


class ModelDetail(ModelSummary):
    model_config = ConfigDict(extra="allow")
    model_id: str
    step: int | None = None
    parameters: dict[str, int] | None = None


class GenerateRequest(BaseModel):
    """Parameters are the command's flags by destination name, e.g. ``{"n": 16, "seed": 3}`` for an
    image model or ``{"prompt": ["ROMEO:"], "max_tokens": 50}`` for text; files go as ``upload:ID``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"params": {"n": 4, "seed": 0}}]})
    params: Params = Field(default_factory=dict)
    command: str | None = Field(None, description="a model command instead of generate, e.g. inpaint")
    format: str | None = Field(None, description="output medium when the task writes several, e.g. mp4")
    stream: bool = Field(False, description="text models: stream the new text as server-sent events")
    prompt: str = Field("", description="with stream: the prompt to continue", max_length=100_000)


class FormField(BaseModel):
    name: str = Field(description="the parameter's name in params (the flag's destination)")
    flag: str
    kind: Literal["int", "float", "str", "bool", "list"]
    default: str | int | float | bool | list[Any] | None = None
    off: str | None = Field(None, description="switches on by default: the parameter that turns it off")
    choices: list[str] | None = None
    help: str
    required: bool


class CommandForm(BaseModel):
    """What a generate (or model command) request of one model takes; the web UI draws its form."""

    model: str
    task: str
    command: str
    media: list[str]
    streams: bool = Field(description="whether generate with stream=true sends text as server-sent events")
    fields: list[FormField]


class OutputFile(BaseModel):
    name: str
    url: str


class GenerateResult(BaseModel):
    id: str
    files: list[OutputFile]


class Stats(BaseModel):
    """How the studio's process is doing: generate batches, model threads and memory."""

    batches: dict[str, int] = Field(description="dynamic batches run so far, by size (\"16\": 40 = 40 batches of 16)")
    threads: int = Field(description="intra-op threads a model's forward pass uses (aigc serve --threads)")
    rss_mb: float | None = Field(description="the server process's resident memory (None where unknown)")


class JobRequest(BaseModel):
    """``train``: ``task``, ``model`` (the new model's name) and ``params`` (the ``aigc train TASK``
    flags); ``generate``: ``model`` and ``params`` as for the generate route; ``eval``: ``eval`` (the
    kind of ``aigc eval KIND``) and its ``params``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "train", "task": "image-gen", "model": "digits-dcgan",
         "params": {"arch": "dcgan", "data": "digits", "image_size": 16, "steps": 200}}]})
    kind: Literal["train", "generate", "eval"]
    task: str | None = None
    model: str | None = None
    eval: str | None = None
    params: Params = Field(default_factory=dict)
    command: str | None = None
    format: str | None = None


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: int | None = Field(None, ge=1, description="a new total of optimizer steps")


class Job(BaseModel):
    id: str
    kind: str
    state: Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
    spec: Params
    result: Params | None = None
    error: str | None = None
    created: float
    started: float | None = None
    finished: float | None = None
    position: int | None = Field(None, description="jobs ahead of this one in the queue (queued jobs)")
    cancel_requested: bool = False
    files: list[OutputFile] = Field(default_factory=list)


class UploadResult(BaseModel):
    id: str = Field(description="pass it as 'upload:ID' in params")
    kind: str
    bytes: int
    info: Params
