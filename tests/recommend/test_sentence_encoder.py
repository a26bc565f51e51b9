"""Content models over sentence embeddings from a local encoder directory: a tiny randomly
initialised BERT saved in the test (no download), checked against plain mean pooling."""

import numpy as np
import pytest

from aigc.core.errors import BadInputError
from aigc.recommend.content import ContentConfig, ContentTFIDF, HybridConfig, Hybrid, SentenceEncoder

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

WORDS = ("rockets stars galaxy space voyage love wedding kiss romance heart film a among the and "
         "of genres").split()


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("encoder")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    tokenizer = transformers.BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}, do_lower_case=True)
    assert tokenizer("rockets")["input_ids"][1] == words.index("rockets")
    config = transformers.BertConfig(vocab_size=len(WORDS) + 5, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    transformers.BertModel(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def test_embeddings_are_mean_pooled_unit_rows_whatever_the_padding(encoder_dir):
    texts = ["space", "a voyage among the stars and galaxy rockets of love"]
    together = SentenceEncoder(encoder_dir).transform(texts).toarray()
    model = transformers.AutoModel.from_pretrained(encoder_dir).eval()
    tok = transformers.AutoTokenizer.from_pretrained(encoder_dir)
    for row, text in zip(together, texts):
        with torch.no_grad():
            states = model(**tok(text, return_tensors="pt")).last_hidden_state[0]  # no padding: a plain mean
        mean = states.mean(0).double().numpy()
        np.testing.assert_allclose(row, mean / np.linalg.norm(mean), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-9)


def test_content_and_hybrid_models_rank_by_embedded_descriptions(make_tastes, encoder_dir):
    data = make_tastes()
    model = ContentTFIDF(ContentConfig(encoder=encoder_dir)).fit(data)
    top = np.argsort(-model.scores(np.array([0, 1])), axis=1)[:, :5]
    assert (top[0] % 2 == 0).all() and (top[1] % 2 == 1).all()
    hybrid = Hybrid(HybridConfig(factors=4, epochs=60, lr=0.02, encoder=encoder_dir)).fit(data, seed=0)
    new = hybrid.add_items(["rockets stars galaxy space voyage"])
    scores = hybrid.scores(np.arange(data.n_users))[:, new[0]]
    assert scores[0::2].mean() > scores[1::2].mean() + 1.0  # space fans rate the new space film higher


def test_a_saved_content_model_adds_items_through_its_encoder(make_tastes, encoder_dir, tmp_path):
    import aigc
    from aigc.recommend.train import RecommendSettings, train
    from aigc.train.config import TrainConfig

    out = tmp_path / "content"
    train(RecommendSettings(arch="content", data=make_tastes(), encoder=encoder_dir),
          TrainConfig(steps=1, progress=False), out)
    pipe = aigc.load(out)
    pipe.add_items({"new-space": "rockets stars galaxy space voyage", "new-love": "love wedding kiss romance"})
    ranked = [r["item"] for r in pipe.recommend("u0", n=40)["items"]]
    assert ranked.index("new-space") < ranked.index("new-love")


def test_a_folder_that_is_not_an_encoder_is_one_clear_line(tmp_path, make_tastes):
    with pytest.raises(BadInputError, match="not a Hugging Face model directory"):
        ContentTFIDF(ContentConfig(encoder=str(tmp_path))).fit(make_tastes())
