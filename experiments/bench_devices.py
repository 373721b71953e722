"""`python -m experiments.bench_devices` times the default sweep on 1 vs N devices, in a checkout.

The code is `rnnctl/bench/devices.py` (installed: `python -m rnnctl.bench.devices`).
Imported (`from experiments import bench_devices`), this module is that module itself.
"""
import sys

if __name__ == "__main__":
    from rnnctl.bench.devices import main
    sys.exit(main())
else:
    from rnnctl.bench import devices as _mod
    sys.modules[__name__] = _mod
