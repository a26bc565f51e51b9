"""`make demo` end to end at a tiny scale: every model trains and the report shows its outputs."""

import json

from PIL import Image

from aigc.demo import main


def test_demo_writes_a_report_with_pictures(tmp_path):
    out = tmp_path / "demo"
    assert main(["--out", str(out), "--scale", "0.004"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["models"]) == {"dcgan", "vae", "text"}
    for name in ("dcgan", "vae"):
        m = report["models"][name]
        assert sum(m["coverage"]["histogram"]) == 100
        assert Image.open(out / m["samples"]).size[0] >= 256
        assert (out / m["curves"]).is_file()
    assert isinstance(report["models"]["text"]["sample"], str)
    page = (out / "report.html").read_text()
    assert "dcgan_samples.png" in page and "text/logs/curves.png" in page
    assert 0.9 < report["judge"]["test_accuracy"] <= 1.0
