"""`python -m experiments.bench_dsa`: the DSA benchmark (rnnctl vs dsa-metric), in a checkout.

The code is `rnnctl/bench/dsa.py`; installed, the same benchmark is `python -m
rnnctl.bench.dsa`. Imported (`from experiments import bench_dsa`), this module is
`rnnctl.bench.dsa` itself: the same names and the same module object.
"""
import sys

PROG = "python -m experiments.bench_dsa"

if __name__ == "__main__":
    from rnnctl.cli import prepare
    prepare()               # the safe XLA flags, before jax starts
    from rnnctl.bench import dsa as _bench
    _bench.PROG = PROG
    sys.exit(_bench.main())
else:
    from rnnctl.bench import dsa as _bench
    _bench.PROG = PROG      # messages name the command as it is typed in a checkout
    sys.modules[__name__] = _bench
