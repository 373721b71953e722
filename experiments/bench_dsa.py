"""`python -m experiments.bench_dsa` times DSA over 110 systems against dsa-metric, in a checkout.

The code is `rnnctl/bench/dsa.py` (installed: `python -m rnnctl.bench.dsa`).
Imported (`from experiments import bench_dsa`), this module is that module itself.
"""
import sys

if __name__ == "__main__":
    from rnnctl.bench.dsa import main
    sys.exit(main())
else:
    from rnnctl.bench import dsa as _mod
    sys.modules[__name__] = _mod
