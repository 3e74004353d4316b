"""Values passed between stages are frozen: no stage can change what another stage was given."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from chatbot import types


def test_every_value_type_is_a_frozen_dataclass() -> None:
    classes = [c for c in vars(types).values()
               if isinstance(c, type) and c.__module__ == types.__name__ and dataclasses.is_dataclass(c)]
    assert {c.__name__ for c in classes} >= {"Query", "Screening", "Passage", "Prompt", "Reply", "Citation"}
    for cls in classes:
        assert cls.__dataclass_params__.frozen, cls.__name__


def test_a_query_cannot_be_changed() -> None:
    query = types.Query("What is a fever?")
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.text = "something else"  # type: ignore[misc]


def test_routes_list_every_route() -> None:
    assert set(types.ROUTES) == set(typing.get_args(types.Route))
    assert set(types.ROUTES) == {"answer", "no_answer", "fallback", "urgent", "emergency", "crisis", "refuse"}
