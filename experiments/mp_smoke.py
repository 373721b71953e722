"""`python -m experiments.mp_smoke` trains across jax processes, a smoke test, in a checkout.

The code is `rnnctl/bench/mp_smoke.py` (installed: `python -m rnnctl.bench.mp_smoke`).
Imported (`from experiments import mp_smoke`), this module is that module itself.
"""
import sys

if __name__ == "__main__":
    from rnnctl.bench.mp_smoke import main
    sys.exit(main())
else:
    from rnnctl.bench import mp_smoke as _mod
    sys.modules[__name__] = _mod
