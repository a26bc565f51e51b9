"""Load on the studio over loopback: requests/s and latency for 1/4/16/64 concurrent clients with and
without dynamic batching, the server's overhead against running the same generate command in-process,
and a soak with the server's memory sampled. Writes ``benchmarks/results/serve_load.json``.

The model is a small class-conditional DDPM on digits (16x16, DDIM ``--sample-steps`` per request), so
the network dominates a request and batching has work to share. The server is ``aigc serve`` in its own
process (``--max-batch 1`` = no batching); clients are threads here, each sending one ``n=1`` request
at a time with its own seed and class label. Both servers and the in-process baseline use the same
``--threads`` (intra-op threads of the model; default: the cores), and both servers run one model call at
a time; each row records the sizes of the batches the server ran (``/api/stats``).

The soak (16 clients, batching on, after the batching rows on the same server) samples the server's
RSS every 5 s; its first ``--soak-warmup`` seconds are the stated warm-up, and the criterion is the
RSS slope (least squares, MB/min) and growth after it, plus the growth over the soak's second half.

    python benchmarks/serve_load.py [--seconds 10] [--soak 60] [--clients 1 4 16 64] [--sample-steps 50]
                                    [--threads N] [--soak-warmup S]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command, machine

from aigc.cli import main as aigc_main
from aigc.core.atomic import atomic_write_json
from aigc.serve.server import free_port

RESULT = Path(__file__).resolve().parent / "results" / "serve_load.json"


def train_model(root: Path, train_steps: int) -> Path:
    out = root / "ddpm"
    argv = ["train", "image-gen", "--arch", "ddpm", "--cond", "--data", "digits", "--image-size", "16",
            "--steps", str(train_steps), "--batch-size", "16", "--out", str(out), "--no-progress", "--device", "cpu"]
    assert aigc_main(argv) == 0
    return out


class Server:
    """``aigc serve`` in a subprocess on a free loopback port."""

    def __init__(self, models: Path, batch: int, threads: int) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aigc.cli", "serve", "--models", str(models), "--port", str(self.port),
             "--device", "cpu", "--max-batch", str(batch), "--batch-wait-ms", "5", "--max-samples", "4",
             "--threads", str(threads)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.proc.stdout.readline()  # printed just before it listens
        # keep reading its log (the last lines kept): a full pipe would block the server mid-request
        self.log: collections.deque[bytes] = collections.deque(maxlen=50)
        threading.Thread(target=self.log.extend, args=(self.proc.stdout,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"
        with httpx.Client(base_url=self.url, transport=httpx.HTTPTransport(retries=50)) as c:
            for _ in range(500):  # bounded: the socket opens right after the line above
                try:
                    c.get("/api/tasks")
                    return
                except httpx.ConnectError:
                    continue
        raise RuntimeError("the studio did not start")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def batches(self) -> collections.Counter:
        """How many batches of each size the server has run so far."""
        stats = httpx.get(self.url + "/api/stats", timeout=60).json()
        return collections.Counter({int(k): v for k, v in stats["batches"].items()})

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.communicate(timeout=60)


def load(url: str, clients: int, seconds: float, steps: int, sampler=None) -> dict:
    """``clients`` threads sending generate requests back to back for ``seconds``; latencies and errors."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = threading.Event()
    start_line = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as c:
            seed = i * 1_000_000
            start_line.wait()
            while not stop.is_set():
                seed += 1
                t0 = time.perf_counter()
                try:
                    ok = c.post("/api/models/ddpm/generate", json={"params": {
                        "n": 1, "seed": seed, "steps": steps, "label": seed % 10}}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    if ok:
                        latencies.append(time.perf_counter() - t0)
                    else:
                        errors[0] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start_line.wait()
    t0 = time.perf_counter()
    while not stop.wait(min(5.0, max(0.0, seconds - (time.perf_counter() - t0)))):
        if sampler is not None:
            sampler(time.perf_counter() - t0)
        if time.perf_counter() - t0 >= seconds:
            stop.set()
    for t in threads:
        t.join()  # every request in flight finishes: none is lost
    wall = time.perf_counter() - t0
    ms = sorted(x * 1000 for x in latencies)
    pick = lambda q: round(ms[min(len(ms) - 1, int(q * len(ms)))], 2) if ms else None
    return {"clients": clients, "requests": len(ms), "errors": errors[0], "rps": round(len(ms) / wall, 2),
            "p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99),
            "mean_ms": round(statistics.fmean(ms), 2) if ms else None}


def direct_ms(model: Path, steps: int, seconds: float) -> tuple[float, float]:
    """Median time (robust to a stall of the host) of the same generate command run in-process on a Pipeline loaded once (as the studio
    keeps it): Pipeline.generate + save with the recipe and watermark, no HTTP, no queue; and the
    in-process throughput ratio of one ``generate(16)`` against sixteen ``generate(1)`` (the model's own
    ceiling for batching at 16 clients)."""
    import contextlib
    import io

    import aigc
    from aigc.core.pipeline import providing
    from aigc.core.registry import resolve, task

    pipe = aigc.load(model, device="cpu")
    parser = resolve(task("image-gen").generate_parser)
    times, seed = [], 0
    with tempfile.TemporaryDirectory() as tmp, providing(lambda path, device: pipe), \
            contextlib.redirect_stdout(io.StringIO()):
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end or len(times) < 5:
            seed += 1
            t0 = time.perf_counter()
            args = parser(str(model)).parse_args(["--n=1", f"--seed={seed}", f"--steps={steps}", f"--label={seed % 10}",
                                                  f"--out={tmp}/{seed}.png", "--device=cpu", "--no-progress"])
            args.func(args)
            times.append(time.perf_counter() - t0)
    one, sixteen = ([_timed(lambda k=k, s=s: pipe.generate(k, seed=s, labels=s % 10, steps=steps)) for s in range(3)]
                    for k in (1, 16))
    return statistics.median(times[1:]) * 1000, round(16 * min(one) / min(sixteen), 2)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def with_threads(threads: int, fn, *args):
    """``fn(*args)`` with torch using ``threads`` intra-op threads (as the servers are told)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(before)


def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models"
        models.mkdir()
        model = train_model(models, args.train_steps)
        direct, model_ratio = with_threads(args.threads, direct_ms, model, args.sample_steps, args.seconds)
        rows = []
        for batching in (False, True):
            server = Server(models, 64 if batching else 1, args.threads)
            try:
                load(server.url, 1, 2.0, args.sample_steps)  # warm-up: the model loads
                for clients in args.clients:
                    seen = server.batches()
                    row = load(server.url, clients, args.seconds, args.sample_steps)
                    sizes = server.batches() - seen
                    rows.append({**row, "batching": batching, "batch_sizes": {str(k): sizes[k] for k in sorted(sizes)},
                                 "mean_batch": round(sum(k * v for k, v in sizes.items()) / max(1, sizes.total()), 2)})
                    print(rows[-1], file=sys.stderr, flush=True)
                soak = soak_run(server, args) if batching and args.soak > 0 else None
            finally:
                server.stop()
    one = {r["batching"]: r for r in rows if r["clients"] == 1}
    by = {(r["clients"], r["batching"]): r for r in rows}
    k = 16 if 16 in args.clients else max(args.clients)
    return {"batching_speedup_16_clients": round(by[(k, True)]["rps"] / by[(k, False)]["rps"], 2),
            "overhead_1_client": round(one[False]["mean_ms"] / direct - 1, 4),
            "overhead_1_client_batching_on": round(one[True]["mean_ms"] / direct - 1, 4),
            "direct_command_ms": round(direct, 2),
            "model_batch16_speedup_in_process": model_ratio,
            "errors": sum(r["errors"] for r in rows) + (soak["errors"] if soak else 0),
            "rows": rows, "soak": soak,
            "settings": {"model": "image-gen ddpm --cond, 16x16 digits", "sample_steps": args.sample_steps,
                         "seconds_per_row": args.seconds, "request": "n=1, own seed and label",
                         "batch_wait_ms": 5, "batch_follow": 0.5, "max_batch": 64, "threads": args.threads,
                         "threads_note": "intra-op threads of the model, the same for both servers and the "
                                         "in-process baseline; one model call at a time per server"},
            "machine": machine(), "command": command()}


def soak_run(server: Server, args: argparse.Namespace) -> dict:
    samples = []
    seen = server.batches()
    row = load(server.url, 16, args.soak, args.sample_steps,
               sampler=lambda t: samples.append({"t_s": round(t, 1), "rss_mb": round(server.rss_mb(), 1)}))
    samples.append({"t_s": float(args.soak), "rss_mb": round(server.rss_mb(), 1)})
    sizes = server.batches() - seen
    warmup = args.soak / 4 if args.soak_warmup is None else args.soak_warmup
    after = [s for s in samples if s["t_s"] >= warmup]
    half = [s for s in samples if s["t_s"] >= args.soak / 2]
    return {"clients": 16, "seconds": args.soak, "requests": row["requests"], "errors": row["errors"],
            "rps": row["rps"], "p99_ms": row["p99_ms"], "batch_sizes": {str(k): sizes[k] for k in sorted(sizes)},
            "warmup": {"seconds": warmup, "what": "the soak's own first seconds (16 clients, batching on), after "
                                                  "the batching rows ran on the same server; its samples are kept "
                                                  "in rss_samples"},
            "rss_slope_after_warmup_mb_per_min": slope_mb_per_min(after),
            "rss_growth_after_warmup_mb": round(after[-1]["rss_mb"] - after[0]["rss_mb"], 1) if after else None,
            "rss_growth_second_half_mb": round(half[-1]["rss_mb"] - half[0]["rss_mb"], 1) if half else None,
            "rss_samples": samples}


def slope_mb_per_min(samples: list[dict]) -> float | None:
    """Least-squares slope of RSS over time, in MB per minute (~0 for a flat server)."""
    if len(samples) < 3:
        return None
    t = [s["t_s"] / 60 for s in samples]
    y = [s["rss_mb"] for s in samples]
    return round(statistics.linear_regression(t, y).slope, 2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="load time per row")
    p.add_argument("--soak", type=float, default=60.0, help="soak seconds at 16 clients with batching (0 = none)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--sample-steps", type=int, default=50,
                   help="DDIM steps per request (50: aigc generate's own default for diffusion models)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                   help="intra-op threads of the model for both servers and the in-process baseline (default: the cores)")
    p.add_argument("--soak-warmup", type=float, default=None, help="stated warm-up seconds of the soak (default soak/4)")
    p.add_argument("--train-steps", type=int, default=30, help="training steps of the benchmark's model")
    p.add_argument("--out", type=Path, default=RESULT)
    args = p.parse_args()
    result = run(args)
    atomic_write_json(args.out, result)
    print({k: v for k, v in result.items() if k not in ("rows", "soak", "machine")})


if __name__ == "__main__":
    main()
