import hashlib
import io
import zipfile

import numpy as np
import pytest

from aigc.core.errors import BadInputError
from aigc.core.paths import data_dir
from aigc.data import ratings as ratings_mod
from aigc.data.ratings import load_ratings, read_items_csv, read_ratings_csv

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n196\t302\t5\t881250950\n"
U_ITEM = ("242|Kolya (1996)|24-Jan-1997||http://x|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
          "302|L.A. Confidential (1997)|01-Jan-1997||http://x|0|0|0|0|0|0|1|0|0|0|0|0|0|1|0|0|1|0|0\n"
          "377|Heavyweights (1994)|01-Jan-1994||http://x|0|0|0|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n")


@pytest.mark.parametrize("text,delim", [
    ("user,item,rating,timestamp\na,x,4,10\nb,x,2.5,11\na,y,1,12\n", ","),
    ("a\tx\t4\t10\nb\tx\t2.5\t11\na\ty\t1\t12\n", "\t"),
    ("a::x::4::10\nb::x::2.5::11\na::y::1::12\n", "::"),
    ("a x 4 10\nb x 2.5 11\n\na y 1 12\n", " "),
])
def test_csv_any_delimiter_header_or_not(tmp_path, text, delim):
    path = tmp_path / "r.txt"
    path.write_text(text)
    data = read_ratings_csv(path)
    assert data.user_ids == ["a", "b"] and data.item_ids == ["x", "y"]
    assert data.users.tolist() == [0, 1, 0] and data.items.tolist() == [0, 0, 1]
    assert data.ratings.tolist() == [4.0, 2.5, 1.0] and data.timestamps.tolist() == [10, 11, 12]
    m = data.matrix()
    assert m.shape == (2, 2) and m[1, 0] == 2.5 and m.nnz == 3


def test_bad_rows_are_reported_with_line_numbers_or_skipped_and_counted(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\na,x,4\nb,x\nc,y,five\nd,y,9\na,x,3\ne,z,2\n")
    with pytest.raises(BadInputError, match=r"r\.csv: line 3: 2 columns.*--skip-bad"):
        read_ratings_csv(path)
    data = read_ratings_csv(path, skip_bad=True, rating_range=(1, 5))
    assert len(data) == 2 and data.user_ids == ["a", "e"]
    assert [s.split(":")[0] for s in data.skipped] == ["line 3", "line 4", "line 5", "line 6"]
    assert "not a number" in data.skipped[1] and "outside the range 1..5" in data.skipped[2]
    assert "duplicate" in data.skipped[3] and "first on line 2" in data.skipped[3]
    with pytest.raises(BadInputError, match="line 5: rating 9 outside"):
        path.write_text("a,x,4\nb,x,3\nc,x,2\nd,x,1\nd,y,9\n")
        read_ratings_csv(path, rating_range=(1, 5))


def test_a_bad_first_row_is_not_mistaken_for_a_header(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("alice,x,five\nbob,x,4\n")
    with pytest.raises(BadInputError, match="line 1: rating 'five' is not a number"):
        read_ratings_csv(path)
    path.write_text("user42,item7\nu1,i2\n")  # implicit, no header: the first row is data
    assert len(read_ratings_csv(path)) == 2


def test_implicit_two_columns_and_missing_file(tmp_path):
    path = tmp_path / "clicks.csv"
    path.write_text("user,item\n1,10\n1,11\n2,10\n")
    data = read_ratings_csv(path)
    assert data.implicit and data.ratings.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(BadInputError, match="not found"):
        read_ratings_csv(tmp_path / "nope.csv")
    with pytest.raises(BadInputError, match="unknown ratings source"):
        load_ratings("netflix")


def test_items_csv(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text('item,title,genres,description\n1,"Alien, The",Sci-Fi|Horror,a crew meets a creature\n'
                    "2,Heat,(no genres listed),\n")
    info = read_items_csv(path)
    assert info["1"] == {"title": "Alien, The", "genres": ["Sci-Fi", "Horror"], "text": "a crew meets a creature"}
    assert info["2"]["genres"] == []


def test_movielens_formats_from_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_text(U_DATA)
    (tmp_path / "ml-100k" / "u.item").write_bytes(U_ITEM.encode("latin-1"))
    data = load_ratings("movielens-100k")
    assert len(data) == 4 and data.n_users == 3 and data.item_ids == ["242", "302", "377"]
    assert data.item_info["302"]["genres"] == ["Crime", "Mystery", "Thriller"]
    assert data.item_text(0) == "Kolya (1996) Comedy"
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n")
    (tmp_path / "ml-1m" / "movies.dat").write_bytes("1193::Cuckoo's Nest (1975)::Drama\n".encode("latin-1"))
    m1 = load_ratings("ml-1m")
    assert m1.ratings.tolist() == [5.0, 3.0] and m1.item_info["1193"]["genres"] == ["Drama"]
    (tmp_path / "ml-latest-small").mkdir()
    (tmp_path / "ml-latest-small" / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,9\n1,3,0.5,8\n")
    (tmp_path / "ml-latest-small" / "movies.csv").write_text('movieId,title,genres\n1,"Toy Story (1995)",Animation|Comedy\n')
    small = load_ratings("movielens-latest-small")
    assert small.ratings.tolist() == [4.0, 0.5] and small.item_info["1"]["genres"] == ["Animation", "Comedy"]


def test_movielens_100k_downloads_and_checks_sha256(http_dir, tmp_path, monkeypatch):
    root, url = http_dir
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ml-100k/u.data", U_DATA)
        zf.writestr("ml-100k/u.item", U_ITEM)
        zf.writestr("../evil.txt", "outside")  # never extracted
    (root / "ml.zip").write_bytes(buf.getvalue())
    sha = hashlib.sha256(buf.getvalue()).hexdigest()
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("AIGC_CACHE_DIR", str(tmp_path / "cache"))
    entry = ratings_mod.MOVIELENS["movielens-100k"]
    monkeypatch.setitem(ratings_mod.MOVIELENS, "movielens-100k", (entry[0], url + "ml.zip", "0" * 64, *entry[3:]))
    with pytest.raises(BadInputError, match="sha256"):
        load_ratings("movielens-100k")
    assert not (tmp_path / "cache" / "data" / "ml-100k").exists()
    monkeypatch.setitem(ratings_mod.MOVIELENS, "movielens-100k", (entry[0], url + "ml.zip", sha, *entry[3:]))
    data = load_ratings("movielens-100k")
    assert len(data) == 4 and data.item_info["242"]["title"] == "Kolya (1996)"
    assert sorted(p.name for p in (tmp_path / "cache" / "data" / "ml-100k").iterdir()) == ["u.data", "u.item"]
    assert not (tmp_path / "cache" / "evil.txt").exists()


def test_real_movielens_100k_counts():
    if not (data_dir("ml-100k") / "ml-100k" / "u.data").is_file():  # the tests' own cache is empty
        pytest.skip("ml-100k not in AIGC_DATA_DIR (MovieLens may not be redistributed)")
    data = load_ratings("movielens-100k")
    assert (len(data), data.n_users, data.n_items) == (100_000, 943, 1682)  # the published counts
    assert np.isclose(data.ratings.mean(), 3.52986)
