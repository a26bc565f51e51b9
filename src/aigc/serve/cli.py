"""``aigc serve`` (nothing heavy is imported until the command runs)."""

from __future__ import annotations

import argparse

from aigc.core.cli_args import HelpFormatter, add_device_arg, positive_int

__all__ = ["add_serve", "add_worker"]


def _add_threads_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="intra-op threads of model calls (aigc serve runs them on one thread, one at a time, "
                        "and its request threads use 1). Default: torch's choice, $OMP_NUM_THREADS or the cores")


def _add_limits(p: argparse.ArgumentParser) -> None:
    from aigc.serve.config import Limits

    d = Limits()
    g = p.add_argument_group("limits (per request, per user)")
    g.add_argument("--max-request-bytes", type=positive_int, default=d.request_bytes, help="request body size")
    g.add_argument("--max-pixels", type=positive_int, default=d.pixels, help="an uploaded image's width x height")
    g.add_argument("--max-audio-seconds", type=float, default=d.audio_seconds, help="an uploaded WAV/MIDI's length")
    g.add_argument("--max-samples", type=positive_int, default=d.samples, help="outputs per generate request (n)")
    g.add_argument("--max-tokens", type=positive_int, default=d.tokens, help="new text tokens per request")
    g.add_argument("--max-steps", type=positive_int, default=d.steps, help="sampling steps per request")
    g.add_argument("--max-train-steps", type=positive_int, default=d.train_steps, help="steps per training job")
    g.add_argument("--max-jobs-per-user", type=positive_int, default=d.jobs_per_user,
                   help="queued + running jobs per token")
    g.add_argument("--max-batch", type=positive_int, default=d.batch,
                   help="generate requests gathered into one dynamic batch (1 = no batching)")
    g.add_argument("--batch-wait-ms", type=float, default=d.batch_wait_ms,
                   help="how long a batch waits for more requests (0-10 ms)")
    g.add_argument("--batch-follow", type=float, default=d.batch_follow, metavar="F",
                   help="after a batch that was not full, the next one waits up to F times that batch's run "
                        "time for its clients to send again (0-2; 0 = off). Clients that wait for each "
                        "answer come back one by one; without this, 16 of them on 2 cores ran as batches "
                        "of 15 and 1 in turn (default %(default)s)")


def _limits(args: argparse.Namespace):
    from aigc.serve.config import Limits

    return Limits(request_bytes=args.max_request_bytes, pixels=args.max_pixels,
                  audio_seconds=args.max_audio_seconds, samples=args.max_samples, tokens=args.max_tokens,
                  steps=args.max_steps, train_steps=args.max_train_steps, jobs_per_user=args.max_jobs_per_user,
                  batch=args.max_batch, batch_wait_ms=args.batch_wait_ms,
                  batch_follow=args.batch_follow)


def add_serve(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    p = subparsers.add_parser(
        "serve", help="the studio: HTTP API and web UI for every task, with a job queue",
        formatter_class=HelpFormatter,
        description="Serve the model directories in --models over HTTP: a web UI at /, the API under /api/ "
                    "(OpenAPI at /docs), a job queue for training, generation and evaluation. Binds to "
                    "127.0.0.1; another --host needs --token (or AIGC_TOKEN). Example: aigc serve --models runs "
                    "--port 8000")
    p.add_argument("--models", default="runs", help="folder holding model directories (training jobs write here)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (non-loopback needs --token)")
    p.add_argument("--port", type=int, default=8000, help="TCP port")
    p.add_argument("--token", action="append", default=None, metavar="T",
                   help="require 'Authorization: Bearer T' (repeat for several users; default $AIGC_TOKEN)")
    p.add_argument("--cors", action="append", default=[], metavar="ORIGIN",
                   help="allow browser calls from this origin (off by default)")
    p.add_argument("--state", default=None, metavar="DIR", help="job database, uploads, outputs (default MODELS/.studio)")
    p.add_argument("--workers", type=positive_int, default=1, help="in-process job workers (without --queue)")
    p.add_argument("--queue", default=None, metavar="URL",
                   help="scale out: keep jobs in Redis (redis://HOST:6379/0) for `aigc worker` processes to run")
    add_device_arg(p, "where models run")
    _add_threads_arg(p)
    _add_limits(p)
    p.set_defaults(func=run_serve)


def _config(args: argparse.Namespace, **extra):
    from aigc.serve.config import ServeConfig

    return ServeConfig(models=args.models, tokens=ServeConfig.tokens_from(getattr(args, "token", None)),
                       state=args.state, device=args.device, limits=_limits(args), **extra)


def run_serve(args: argparse.Namespace) -> int:
    from aigc.serve.server import serve

    serve(_config(args, host=args.host, port=args.port, cors=tuple(args.cors), workers=args.workers,
                  queue=args.queue, threads=args.threads))
    return 0


def add_worker(subparsers: argparse._SubParsersAction, argv: list[str]) -> None:
    p = subparsers.add_parser(
        "worker", help="run the studio's jobs from a Redis queue (scale-out of aigc serve --queue)",
        formatter_class=HelpFormatter,
        description="Take training, generation and evaluation jobs that `aigc serve --queue URL` queued and run "
                    "them here, with the same progress events and cancel as in-process jobs. --models must be "
                    "the server's models folder (the same disk, or a shared file system). Start as many as you "
                    "like, on any machine that reaches Redis. Example: aigc worker --queue "
                    "redis://127.0.0.1:6379/0 --models runs")
    p.add_argument("--queue", required=True, metavar="URL", help="the Redis URL the server was given")
    p.add_argument("--models", default="runs", help="the server's models folder (training jobs write here)")
    p.add_argument("--state", default=None, metavar="DIR", help="the server's --state (default MODELS/.studio)")
    p.add_argument("--name", default=None, help="this worker's name in job events (default HOST.PID)")
    p.add_argument("--burst", action="store_true", help="stop once the queue is empty")
    add_device_arg(p, "where jobs run")
    _add_threads_arg(p)
    p.set_defaults(func=run_worker)


def run_worker(args: argparse.Namespace) -> int:
    from aigc.serve.config import check_queue_url
    from aigc.serve.scaleout import run_worker as work

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    work(check_queue_url(args.queue), args.models, args.state, args.device, burst=args.burst, name=args.name)
    return 0
