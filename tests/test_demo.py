"""`make demo` end to end at a tiny scale: every section trains and the report shows its outputs."""

import html
import json
import re
from types import SimpleNamespace

import pytest
from PIL import Image

from aigc.core.registry import tasks
from aigc.demo import DemoError, _longest_first, _run_side_by_side, main, run_demo


def test_every_task_has_a_demo():
    assert [t.name for t in tasks() if t.demo is None] == []


def test_demo_writes_a_report_with_pictures(tmp_path):
    out = tmp_path / "demo"
    # two worker processes side by side, as `make demo` runs on a 2-core machine
    assert main(["--out", str(out), "--scale", "0.004", "--tasks", "image-gen,text", "--jobs", "2"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["tasks"]) == {"image-gen", "text"} and report["complete"] and report["jobs"] == 2
    figures = report["tasks"]["image-gen"]["figures"]
    for name in ("dcgan", "vae"):
        assert sum(figures[name]["coverage"]["histogram"]) == 100
    assert Image.open(out / "image-gen" / "dcgan_samples.png").size[0] >= 256
    assert 0.9 < figures["judge_accuracy"] <= 1.0
    page = (out / "report.html").read_text()
    assert "<pre>" in page  # the text sample
    titles = [html.unescape(t) for t in re.findall(r"<h2>([^<]+)</h2>", page)]
    assert titles == [report["tasks"][n]["title"] for n in ("image-gen", "text")]  # registry order
    linked = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page)
    assert linked and all((out / url).is_file() for url in linked), [u for u in linked if not (out / u).is_file()]


def _fake_tasks(monkeypatch, demos):
    fakes = [SimpleNamespace(name=n, summary=f"{n} task", demo=d) for n, d in demos.items()]
    monkeypatch.setattr("aigc.core.registry.tasks", lambda: fakes)


def test_a_failing_task_stops_the_demo_and_the_report_keeps_what_finished(tmp_path, monkeypatch):
    _fake_tasks(monkeypatch, {"first": "helpers:demo_ok", "broken": "helpers:demo_fails", "last": "helpers:demo_ok"})
    with pytest.raises(DemoError, match="broken: no data for this demo"):
        run_demo(tmp_path, seed=3, jobs=1)
    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report["tasks"]) == ["first"] and report["complete"] is False
    assert not (tmp_path / "last").exists()  # nothing starts after a failure
    page = (tmp_path / "report.html").read_text()
    assert "Stopped early: no section for broken, last" in page
    assert "href='first/seed.txt'" in page and (tmp_path / "first" / "seed.txt").read_text() == "3"


def test_side_by_side_workers_start_nothing_after_a_failure(tmp_path):
    results = {}
    _run_side_by_side({"broken": "helpers:demo_fails", "next": "helpers:demo_ok"}, tmp_path, 0, 1.0, 1, results)
    assert results == {"broken": {"error": "broken: no data for this demo"}}
    assert not (tmp_path / "next").exists()
    _run_side_by_side({"a": "helpers:demo_ok", "b": "helpers:demo_ok"}, tmp_path, 5, 1.0, 2, results)
    assert results["a"]["part"]["figures"] == {"seed": 5} and results["b"]["part"]["title"] == "ok b"


def test_longest_first_reads_the_previous_report(tmp_path):
    names = ["a", "b", "c", "d"]
    assert _longest_first(names, tmp_path) == names  # no report yet: registry order
    (tmp_path / "report.json").write_text(json.dumps({"tasks": {"a": {"seconds": 1}, "b": {"seconds": 90},
                                                                "c": {"seconds": 20}}}))
    assert _longest_first(names, tmp_path) == ["d", "b", "c", "a"]  # never timed: first
    (tmp_path / "report.json").write_text("{not json")
    assert _longest_first(names, tmp_path) == names


def test_a_first_run_starts_the_longest_task_demo_by_its_estimate(tmp_path):
    names = ["a", "b", "c", "d"]
    expected = {"a": 5.0, "b": 50.0, "c": None, "d": 20.0}
    assert _longest_first(names, tmp_path, expected) == ["c", "b", "d", "a"]  # c: no estimate, first
    (tmp_path / "report.json").write_text(json.dumps({"tasks": {"a": {"seconds": 90}}}))
    assert _longest_first(names, tmp_path, expected) == ["c", "a", "b", "d"]  # a measured time wins
    from aigc.core.registry import tasks

    order = _longest_first([t.name for t in tasks()], tmp_path / "fresh",
                           {t.name: t.demo_seconds for t in tasks()})
    longest = max((t for t in tasks() if t.demo), key=lambda t: t.demo_seconds)
    assert all(t.demo_seconds for t in tasks() if t.demo)  # every task with a demo says how long it runs
    assert order[0] == longest.name


@pytest.mark.parametrize("argv, message", [(["--jobs", "0"], "--jobs must be between 1 and 64"),
                                           (["--tasks", "image-gen,vidoe"], "unknown task(s) vidoe")])
def test_bad_demo_arguments_are_one_line(tmp_path, capsys, argv, message):
    assert main(["--out", str(tmp_path / "demo"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "demo").exists()
