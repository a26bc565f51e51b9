"""model_config_with: the task's derived fields, the user's --model overrides on top, one-line errors."""

from dataclasses import dataclass

import pytest

from aigc.core.config import model_config_with
from aigc.core.errors import BadInputError


@dataclass(kw_only=True)
class Toy:
    width: int = 8
    depth: int = 2

    def __post_init__(self) -> None:
        if self.depth < 1:
            raise ValueError(f"depth must be >= 1, got {self.depth}")


def test_overrides_win_over_derived_fields():
    assert model_config_with(Toy, "toy", {"width": 16, "depth": 3}, {"depth": 5}) == Toy(width=16, depth=5)


def test_an_unknown_setting_names_the_known_ones():
    with pytest.raises(BadInputError, match=r"toy has no model setting\(s\) \['dpeth'\]; it has \['depth', 'width'\]"):
        model_config_with(Toy, "toy", {}, {"dpeth": 3})


def test_an_invalid_value_is_one_line_naming_the_architecture():
    with pytest.raises(BadInputError, match="toy model settings: depth must be >= 1, got 0"):
        model_config_with(Toy, "toy", {"width": 4}, {"depth": 0})
