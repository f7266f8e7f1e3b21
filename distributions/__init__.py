"""Parameter distributions, as Protein sweep configs write them.

| kind | values | encoding |
|---|---|---|
| ``uniform`` | floats in [min, max] | linear |
| ``int_uniform`` | integers min..max | linear, equal cells |
| ``uniform_pow2`` | powers of two min..max | log2, equal cells |
| ``log_normal`` | floats in [min, max], 0 < min | log |
| ``logit_normal`` | floats in [min, max] inside (0, 1) | logit |
| ``categorical`` | one of ``choices`` | equal cells in list order |
"""

from distributions.base import AUTO_SCALE, Distribution, DistributionError
from distributions.categorical import Categorical
from distributions.continuous import LogitNormal, LogNormal, Uniform
from distributions.discrete import IntUniform, UniformPow2
from distributions.registry import KINDS, from_config

__all__ = [
    "AUTO_SCALE",
    "KINDS",
    "Categorical",
    "Distribution",
    "DistributionError",
    "IntUniform",
    "LogNormal",
    "LogitNormal",
    "Uniform",
    "UniformPow2",
    "from_config",
]
