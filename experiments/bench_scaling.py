"""`python -m experiments.bench_scaling` times training 1 to 1,000 agents, in a checkout.

The code is `rnnctl/bench/scaling.py` (installed: `python -m rnnctl.bench.scaling`).
Imported (`from experiments import bench_scaling`), this module is that module itself.
"""
import sys

if __name__ == "__main__":
    from rnnctl.bench.scaling import main
    sys.exit(main())
else:
    from rnnctl.bench import scaling as _mod
    sys.modules[__name__] = _mod
