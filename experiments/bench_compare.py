"""`from experiments import bench_compare`: `rnnctl/bench/compare.py`, which
`python -m experiments.bench_analysis --compare` runs.

Imported, this module is `rnnctl.bench.compare` itself (the same module object).
"""
import sys

from rnnctl.bench import compare as _mod

sys.modules[__name__] = _mod
