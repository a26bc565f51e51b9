"""`make demo` end to end at a tiny scale: every section trains and the report shows its outputs."""

import json
import re

from PIL import Image

from aigc.core.registry import tasks
from aigc.demo import main


def test_every_task_has_a_demo():
    assert [t.name for t in tasks() if t.demo is None] == []


def test_demo_writes_a_report_with_pictures(tmp_path):
    out = tmp_path / "demo"
    assert main(["--out", str(out), "--scale", "0.004", "--tasks", "image-gen,text"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["tasks"]) == {"image-gen", "text"}
    figures = report["tasks"]["image-gen"]["figures"]
    for name in ("dcgan", "vae"):
        assert sum(figures[name]["coverage"]["histogram"]) == 100
    assert Image.open(out / "image-gen" / "dcgan_samples.png").size[0] >= 256
    assert 0.9 < figures["judge_accuracy"] <= 1.0
    page = (out / "report.html").read_text()
    assert "<pre>" in page  # the text sample
    linked = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page)
    assert linked and all((out / url).is_file() for url in linked), [u for u in linked if not (out / u).is_file()]
