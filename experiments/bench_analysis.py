"""`python -m experiments.bench_analysis` benchmarks the analysis of a sweep, in a checkout.

The code is `rnnctl/bench/analysis.py` (installed: `python -m rnnctl.bench.analysis`).
Imported (`from experiments import bench_analysis`), this module is that module itself.
"""
import sys

if __name__ == "__main__":
    from rnnctl.bench.analysis import main
    sys.exit(main())
else:
    from rnnctl.bench import analysis as _mod
    sys.modules[__name__] = _mod
