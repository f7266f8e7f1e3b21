"""Distributions: bounds, round trips and fair coverage (hypothesis), and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributions import (
    Categorical,
    DistributionError,
    IntUniform,
    LogitNormal,
    LogNormal,
    Uniform,
    UniformPow2,
    from_config,
)

EXAMPLES = [
    Uniform(-2.0, 3.5),
    LogNormal(1e-5, 1e-1, mean=3e-4),
    LogitNormal(0.8, 0.9999),
    IntUniform(1, 10),
    IntUniform(-3, 3, mean=0),
    UniformPow2(16, 1024),
    Categorical(("adam", "sgd", "adamw")),
    Categorical((True, False)),
    Categorical((3, 5, 7.5, "x")),
]
IDS = [f"{d.kind}-{i}" for i, d in enumerate(EXAMPLES)]


@pytest.mark.parametrize("dist", EXAMPLES, ids=IDS)
@given(u=st.floats(0.0, 1.0))
def test_decode_of_any_u_lies_in_the_domain(dist, u):
    assert dist.contains(dist.from_unit(u))


@pytest.mark.parametrize("dist", EXAMPLES, ids=IDS)
@given(u=st.floats(0.0, 1.0))
def test_value_round_trips_through_the_unit_interval(dist, u):
    v = dist.from_unit(u)
    back = dist.from_unit(dist.to_unit(v))
    if dist.n_values is not None:
        assert back == v and type(back) is type(v)
    else:
        assert back == pytest.approx(v, rel=1e-9, abs=1e-12)
    assert 0.0 <= dist.to_unit(v) <= 1.0


@pytest.mark.parametrize("dist", [d for d in EXAMPLES if d.n_values], ids=lambda d: d.kind)
def test_uniform_u_hits_every_value_equally_often(dist):
    rng = np.random.default_rng(0)
    n = dist.n_values
    draws = 4000 * n
    counts: dict = {}
    for u in rng.random(draws):
        v = dist.from_unit(u)
        counts[(type(v), v)] = counts.get((type(v), v), 0) + 1
    assert len(counts) == n
    expected = draws / n
    # 5 sigma of a binomial count: no value gets a half share at the ends
    tol = 5 * math.sqrt(expected)
    assert all(abs(c - expected) < tol for c in counts.values()), counts


def test_bounds_map_to_the_ends_of_the_unit_interval():
    d = LogNormal(1e-4, 1.0)
    assert d.from_unit(0.0) == 1e-4 and d.from_unit(1.0) == 1.0
    assert d.to_unit(1e-4) == 0.0 and d.to_unit(1.0) == 1.0
    p = UniformPow2(32, 256)
    assert [p.from_unit((k + 0.5) / 4) for k in range(4)] == [32, 64, 128, 256]


def test_log_normal_default_mean_is_the_geometric_mean():
    assert LogNormal(1e-4, 1e-2).to_dict()["mean"] == pytest.approx(1e-3)
    assert UniformPow2(32, 128).to_dict()["mean"] == pytest.approx(64)
    assert IntUniform(1, 10).to_dict()["mean"] == 5.5


def test_logit_normal_is_a_true_logit():
    d = LogitNormal(0.01, 0.99)
    assert d.from_unit(0.5) == pytest.approx(0.5)
    # symmetric resolution near both ends, unlike log10(1 - x)
    assert d.to_unit(0.1) == pytest.approx(1 - d.to_unit(0.9))


def test_time_scale_is_half_a_doubling():
    d = LogNormal(1e-5, 1e-1, scale="time")
    assert d.norm_scale == pytest.approx(1 / math.log2(1e4))


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"distribution": "uniform_pow2", "min": 48, "max": 256},
         "trainer.batch_size: uniform_pow2 needs powers of two, got min=48; use 32 or 64"),
        ({"distribution": "log_normal", "min": 0, "max": 1}, "log_normal needs 0 < min"),
        ({"distribution": "logit_normal", "min": 0.0, "max": 1.0}, "0 < min < max < 1"),
        ({"distribution": "uniform", "min": 2, "max": 1}, "min < max, got min=2.0, max=1.0"),
        ({"distribution": "uniform", "min": 0, "max": 1, "mean": 3}, "mean=3.0 outside"),
        ({"distribution": "int_uniform", "min": 0.5, "max": 3}, "integer min"),
        ({"distribution": "log_normal", "min": 1, "max": 2, "maen": 1}, "did you mean 'mean'"),
        ({"distribution": "lognormal", "min": 1, "max": 2}, "did you mean 'log_normal'"),
        ({"distribution": "uniform", "min": 0, "max": 1, "scale": "time"}, "scale='time'"),
        ({"distribution": "uniform", "min": 0, "max": 1, "scale": -1}, "scale > 0"),
        ({"values": [1, 1.0]}, "distinct"),
        ({"values": []}, "at least one"),
        ({"distribution": "uniform", "max": 1}, "needs min"),
    ],
)
def test_invalid_definitions_name_the_parameter_the_rule_and_the_fix(spec, message):
    with pytest.raises(DistributionError) as e:
        from_config("trainer.batch_size", spec)
    assert str(e.value).startswith("trainer.batch_size: ")
    assert message in str(e.value)


def test_categorical_keeps_bools_apart_from_numbers():
    c = Categorical((1, True, "1"))
    assert [c.from_unit(c.to_unit(v)) for v in (1, True, "1")] == [1, True, "1"]
    assert type(c.from_unit(c.to_unit(True))) is bool


def test_coerce_turns_shell_strings_into_domain_values():
    assert Categorical((True, False)).coerce("true") is True
    assert Categorical((32, 64)).coerce("64") == 64
    assert UniformPow2(32, 64).coerce("64.0") == 64
    assert LogNormal(1e-5, 1.0).coerce("1e-3") == 1e-3


@settings(max_examples=50)
@given(lo=st.integers(0, 12), width=st.integers(1, 10))
def test_pow2_round_trip_for_any_range(lo, width):
    d = UniformPow2(2**lo, 2 ** (lo + width))
    values = d.grid(0)
    assert values == [2 ** (lo + k) for k in range(width + 1)]
    assert [d.from_unit(d.to_unit(v)) for v in values] == values


def test_grid_of_continuous_includes_both_ends():
    assert Uniform(0, 1).grid(3) == [0.0, 0.5, 1.0]
