"""`python -m experiments.fp_locations` tabulates where a run's fixed points lie, in a checkout.

The code is `rnnctl/cli/fp_locations.py` (installed: `python -m rnnctl.cli.fp_locations`).
Imported (`from experiments import fp_locations`), this module is that module itself.
"""
import sys

if __name__ == "__main__":
    from rnnctl.cli.fp_locations import main
    sys.exit(main())
else:
    from rnnctl.cli import fp_locations as _mod
    sys.modules[__name__] = _mod
