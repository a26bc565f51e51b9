"""The anonymiser on crafted text: what must go, what must stay, and the counts."""

import argparse

import pytest

from aigc.core.errors import BadInputError
from aigc.tools.privacy.anonymize import add_anonymize, anonymize, anonymize_file

TEXT = """Write to jane.doe+news@example.co.uk or call +44 20 7946 0958 / (555) 123-4567.
Docs: https://example.org/a?b=1, see also www.python.org. Server 192.168.1.20 and fe80:0:0:0:202:b3ff:fe1e:8329.
Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, SSN 078-05-1120, customer 123456789012.
In 1999 we sold 250 units for 19.99 each; version 3.11.2 on page 42."""


def test_every_kind_is_replaced_and_counted():
    out, counts = anonymize(TEXT)
    assert counts == {"EMAIL": 1, "PHONE": 2, "URL": 2, "IP": 2, "ID": 4}
    for secret in ["jane.doe", "7946", "123-4567", "example.org", "python.org", "192.168", "fe80", "4111",
                   "DE89", "078-05", "123456789012"]:
        assert secret not in out, secret
    assert out.count("<EMAIL>") == 1 and out.count("<ID>") == 4


def test_ordinary_numbers_and_words_stay():
    out, _ = anonymize(TEXT)
    for kept in ["In 1999 we sold 250 units for 19.99 each", "version 3.11.2 on page 42", "Write to", "Server"]:
        assert kept in out, kept
    assert anonymize("nothing personal here: 2024, 3.14, 100 items")[1] == {}


def test_file_command_counts_and_never_touches_the_source(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text(TEXT, encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_anonymize(parser.add_subparsers())
    args = parser.parse_args(["anonymize", str(src), "--out", str(tmp_path / "out.txt")])
    assert args.func(args) == 0
    assert "email 1, phone 2, url 2, ip 2, id 4" in capsys.readouterr().err
    assert src.read_text(encoding="utf-8") == TEXT
    assert "<EMAIL>" in (tmp_path / "out.txt").read_text(encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9")
    with pytest.raises(BadInputError, match="not UTF-8"):
        anonymize_file(tmp_path / "bad.txt", tmp_path / "o.txt")
    with pytest.raises(BadInputError, match="never changed"):
        anonymize_file(src, src)
