"""End to end through the command line and the Pipeline: train, recommend, similar, eval."""

import json

import numpy as np
import pytest

from aigc.cli import main


def _write(tmp_path, make_tastes):
    data = make_tastes()
    rows = ["user,item,rating,timestamp"] + [f"{data.user_ids[u]},{data.item_ids[i]},{r:g},{n}"
                                             for n, (u, i, r) in enumerate(zip(data.users, data.items, data.ratings))]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    items = ["item,title,genres,description"] + [f"{k},{v['title']},{v['genres'][0]},{v['text']}"
                                                 for k, v in data.item_info.items()]
    (tmp_path / "items.csv").write_text("\n".join(items) + "\n")
    (tmp_path / "new.csv").write_text("item,title,genres,description\nfresh,Star Voyage,Space,rockets to a galaxy\n")
    return data


def test_train_recommend_similar_and_eval(tmp_path, make_tastes, with_task, capsys):
    _write(tmp_path, make_tastes)
    out = str(tmp_path / "m")
    assert main(["train", "recommend", "--algo", "hybrid", "--data", f"csv:{tmp_path / 'r.csv'}", "--items",
                 str(tmp_path / "items.csv"), "--factors", "4", "--epochs", "60", "--lr", "0.02", "--holdout", "0.2",
                 "--out", out]) == 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["task"] == "recommend" and config["architecture"] == "hybrid" and config["model"]["factors"] == 4
    assert config["model"]["lr"] == 0.02 and config["settings"]["arch"] == "hybrid"
    assert "holdout_rmse" in capsys.readouterr().err
    recs = tmp_path / "recs.json"
    assert main(["recommend", out, "--user", "u0", "--n", "3", "--add-items", str(tmp_path / "new.csv"),
                 "--out", str(recs), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads(recs.read_text())
    assert saved["items"] == printed["items"] and printed["added_items"] == ["fresh"]
    recipe = saved.get("aigc_recipe") or saved.get("recipe")
    assert recipe["user"] == "u0" and recipe["task"] == "recommend" and recipe["model_id"]
    items = [e["item"] for e in printed["items"]]
    assert "fresh" in items, printed  # the new space film, recommended at once to a space fan
    assert all(int(i[1:]) % 2 == 0 for i in items if i != "fresh")
    assert all(e["reason"] for e in printed["items"])
    assert main(["recommend", out, "--user", "u1", "--n", "3", "--add-items", str(tmp_path / "new.csv"), "--json"]) == 0
    assert "fresh" not in [e["item"] for e in json.loads(capsys.readouterr().out)["items"]]  # a romance fan
    first = recs.read_bytes()
    assert main(["recommend", out, "--user", "u0", "--n", "3", "--add-items", str(tmp_path / "new.csv"),
                 "--out", str(recs), "--json"]) == 0
    assert recs.read_bytes() == first  # same model, same call, same bytes
    capsys.readouterr()
    assert main(["recommend", out, "--user", "stranger", "--n", "2"]) == 0
    assert "popularity (new user" in capsys.readouterr().out
    assert main(["similar", out, "--item", "m2", "--n", "4", "--json"]) == 0
    similar = json.loads(capsys.readouterr().out)["similar"]
    assert len(similar) == 4 and all(int(e["item"][1:]) % 2 == 0 for e in similar)
    assert main(["eval", "recommend", "--algo", "baseline", "--data", f"csv:{tmp_path / 'r.csv'}", "--cv", "3",
                 "--json", str(tmp_path / "rep.json")]) == 0
    report = json.loads((tmp_path / "rep.json").read_text())
    assert report["cv"] == 3 and len(report["folds"]) == 3 and 0 < report["rmse"] < 2 and "ndcg@10" in report


def test_bad_input_ends_with_one_line(tmp_path, with_task, capsys):
    (tmp_path / "bad.csv").write_text("u,i,r\na,x,4\nb,y,oops\n")
    code = main(["train", "recommend", "--algo", "baseline", "--data", f"csv:{tmp_path / 'bad.csv'}",
                 "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and "line 3" in err and "--skip-bad" in err
    assert main(["train", "recommend", "--algo", "baseline", "--data", f"csv:{tmp_path / 'bad.csv'}",
                 "--skip-bad", "--out", str(tmp_path / "m")]) == 0
    assert "1 bad rows skipped" in capsys.readouterr().err
    assert main(["train", "recommend", "--algo", "svd", "--k", "5", "--data", f"csv:{tmp_path / 'bad.csv'}",
                 "--skip-bad", "--out", str(tmp_path / "m2")]) == 2
    assert "--k does not apply to svd" in capsys.readouterr().err
    assert main(["similar", str(tmp_path / "m"), "--item", "nope"]) == 2
    assert "unknown item" in capsys.readouterr().err


@pytest.mark.parametrize("algo", ["svd", "knn", "ease"])
def test_pipeline_roundtrip_matches_the_fitted_model(tmp_path, make_planted, with_task, algo):
    import aigc
    from aigc.recommend.train import RecommendSettings, fit_model, train
    from aigc.train.config import TrainConfig

    data, _ = make_planted(n_users=20, n_items=15)
    settings = RecommendSettings(arch=algo, data=data, epochs=3 if algo == "svd" else None)
    config = TrainConfig(seed=1, lr=0.015, batch_size=8192)
    train(settings, config, tmp_path / "m")
    pipe = aigc.load(str(tmp_path / "m"), device="cpu")
    model = fit_model(settings, data, seed=1, config=config)
    scores = model.scores(np.array([3]))[0]
    seen = set(data.items[data.users == 3].tolist())
    expected = [data.item_ids[i] for i in np.argsort(-scores, kind="stable") if i not in seen][:5]
    got = pipe.recommend("u3", 5)
    assert [e["item"] for e in got["items"]] == expected and got["fallback"] is None


def test_eval_time_split_and_implicit_data(tmp_path, with_task, capsys):
    rng = np.random.default_rng(0)
    rows = ["user,item"] + sorted({f"u{u},i{(u % 3) * 5 + int(k)}" for u in range(30) for k in rng.integers(0, 5, 4)})
    (tmp_path / "clicks.csv").write_text("\n".join(rows) + "\n")
    assert main(["eval", "recommend", "--algo", "ease", "--data", f"csv:{tmp_path / 'clicks.csv'}", "--top-k", "3",
                 "--json", str(tmp_path / "rep.json")]) == 0
    report = json.loads((tmp_path / "rep.json").read_text())
    assert "rmse" not in report and report["data"]["implicit"] and report["recall@3"] > 0.5
    assert main(["eval", "recommend", "--algo", "svd", "--data", f"csv:{tmp_path / 'clicks.csv'}",
                 "--split", "time"]) == 2
    assert "timestamps" in capsys.readouterr().err
