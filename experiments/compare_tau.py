"""`python -m experiments.compare_tau` compares two runs' timescales, in a checkout.

The code is `rnnctl/cli/compare_tau.py` (installed: `python -m rnnctl.cli.compare_tau`).
Imported (`from experiments import compare_tau`), this module is that module itself.
"""
import sys

if __name__ == "__main__":
    from rnnctl.cli.compare_tau import main
    sys.exit(main())
else:
    from rnnctl.cli import compare_tau as _mod
    sys.modules[__name__] = _mod
