"""`aigc eval text --model DIR --data FILE`: the metrics CLI reaches the text task through the registry."""

import json
import math

from aigc.cli import main


def test_eval_text_perplexity_of_a_model(tmp_path, capsys):
    from aigc.text.demo import train_demo_text

    train_demo_text(tmp_path / "lm", steps=3, device="cpu")
    held_out = tmp_path / "held.txt"
    held_out.write_text("The quick brown fox jumps over the lazy dog.\n", encoding="utf-8")
    hyps = tmp_path / "hyps.txt"
    hyps.write_text("the cat sat\nthe cat sat\na dog ran\n", encoding="utf-8")
    out = tmp_path / "report.json"
    assert main(["eval", "text", "--model", str(tmp_path / "lm"), "--data", str(held_out), "--hyps", str(hyps),
                 "--device", "cpu", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    ppl = report["perplexity"]
    assert math.isclose(ppl["perplexity"], math.exp(ppl["nll_per_token"]), rel_tol=1e-6)
    assert 1.0 < ppl["perplexity"] < 1e4
    assert "distinct" in json.dumps(report)
    assert main(["eval", "text"]) == 2
    assert "--hyps" in capsys.readouterr().err
