"""`python -m experiments.bench_train` times the trainer against RecurrentPPO, in a checkout.

The code is `rnnctl/bench/train.py` (installed: `python -m rnnctl.bench.train`).
Imported (`from experiments import bench_train`), this module is that module itself.
"""
import sys

if __name__ == "__main__":
    from rnnctl.bench.train import main
    sys.exit(main())
else:
    from rnnctl.bench import train as _mod
    sys.modules[__name__] = _mod
