import json

from aigc.recommend.demo import run


def test_demo_writes_viewable_artifacts_and_the_cold_item_reaches_its_fans(tmp_path):
    out = run(tmp_path, seed=0)
    assert out["title"] and "<table>" in out["html"] and "predicted_ratings.png" in out["html"]
    assert (tmp_path / "predicted_ratings.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rec = json.loads((tmp_path / "recommend_user0.json").read_text())
    assert len(rec["items"]) == 5 and all(e["reason"] for e in rec["items"])
    ranks = out["figures"]["fresh_rank"]
    assert ranks["user0"] is not None and ranks["user1"] is None  # space fan gets it, romance fan does not
    reward = out["figures"]["bandit_reward"]
    assert reward["linucb"] > reward["random"]
