"""Space: batch encode/decode, snapping, nesting, fixed values and conditionals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from distributions import Categorical, IntUniform, LogNormal, Uniform, UniformPow2
from protein.errors import SpaceError
from protein.space import Space, conditions_from
from protein.tree import flatten

SPACE = Space(
    {
        "trainer.learning_rate": LogNormal(1e-5, 1e-1),
        "trainer.batch_size": UniformPow2(16, 1024),
        "trainer.use_lstm": Categorical((True, False)),
        "trainer.lstm_hidden_size": UniformPow2(64, 512),
        "trainer.layers": IntUniform(1, 8),
        "dropout": Uniform(0.0, 0.5),
    },
    conditions_from({"trainer.lstm_hidden_size": {"trainer.use_lstm": True}}),
    fixed={"trainer": {"total_timesteps": 1000}, "env": {"name": "cartpole"}},
)


@settings(max_examples=200)
@given(U=arrays(float, (4, 6), elements=st.floats(0, 1)))
def test_snapped_points_decode_and_encode_back_exactly(U):
    S = SPACE.snap(U)
    assert np.allclose(SPACE.snap(S), S)
    params = SPACE.decode_many(S)
    assert np.allclose(SPACE.encode_many(params), S)
    for p in params:
        assert ("trainer.lstm_hidden_size" in p) == (p["trainer.use_lstm"] is True)


def test_nest_fills_the_tree_on_top_of_fixed_overrides():
    params = {"trainer.learning_rate": 1e-3, "trainer.batch_size": 64, "trainer.use_lstm": False,
              "trainer.layers": 2, "dropout": 0.1}
    nested = SPACE.nest(params)
    assert nested == {
        "trainer": {"total_timesteps": 1000, "learning_rate": 1e-3, "batch_size": 64,
                    "use_lstm": False, "layers": 2},
        "env": {"name": "cartpole"},
        "dropout": 0.1,
    }
    assert SPACE.flatten(nested) == params
    assert flatten({"a": {"b": 1, "c": {"d": 2}}}) == {"a.b": 1, "a.c.d": 2}


def test_encode_rejects_missing_unknown_and_inactive_parameters():
    good = {"trainer.learning_rate": 1e-3, "trainer.batch_size": 64, "trainer.use_lstm": False,
            "trainer.layers": 2, "dropout": 0.1}
    with pytest.raises(SpaceError, match="missing parameter 'dropout'"):
        SPACE.encode({k: v for k, v in good.items() if k != "dropout"})
    with pytest.raises(SpaceError, match=r"unknown parameter\(s\) \['lr'\]"):
        SPACE.encode({**good, "lr": 1})
    with pytest.raises(SpaceError, match="inactive"):
        SPACE.encode({**good, "trainer.lstm_hidden_size": 64})
    with pytest.raises(SpaceError, match="trainer.batch_size: uniform_pow2 value 48"):
        SPACE.encode({**good, "trainer.batch_size": 48})


def test_remembered_encodings_are_fresh_copies_and_tell_equal_values_of_other_types_apart():
    space = Space({"c": Categorical((1, True, "x")), "u": Uniform(0.0, 1.0)})
    first = space.encode({"c": 1, "u": 0.5})
    first[:] = -1.0  # the caller's array is its own
    assert np.allclose(space.encode({"c": 1, "u": 0.5}), [1 / 6, 0.5])
    assert np.allclose(space.encode({"c": True, "u": 0.5}), [0.5, 0.5])  # True == 1, apart
    for _ in range(2):  # a bad value is never remembered as good
        with pytest.raises(SpaceError, match="u"):
            space.encode({"c": "x", "u": 2.0})


def test_conditions_must_name_a_discrete_searched_parent():
    with pytest.raises(SpaceError, match="not a searched parameter"):
        Space({"a": Uniform(0, 1)}, conditions_from({"a": {"b": 1}}))
    with pytest.raises(SpaceError, match="continuous"):
        Space({"a": Uniform(0, 1), "b": Uniform(0, 1)}, conditions_from({"a": {"b": 1}}))
    with pytest.raises(SpaceError, match="cycle"):
        Space(
            {"a": IntUniform(0, 1), "b": IntUniform(0, 1)},
            conditions_from({"a": {"b": 1}, "b": {"a": 1}}),
        )


def test_centre_and_spread_follow_mean_and_scale():
    s = Space({"lr": LogNormal(1e-4, 1e-2, mean=1e-3, scale=0.5), "bs": UniformPow2(32, 128)})
    assert s.center[0] == pytest.approx(0.5)
    assert s.local_radius[0] == pytest.approx(0.25)
    assert s.decode(s.center)["bs"] == 64


def test_grid_size_counts_discrete_values():
    s = Space({"a": IntUniform(1, 3), "b": Categorical(("x", "y"))})
    assert s.grid_size == 6
    assert SPACE.grid_size is None
