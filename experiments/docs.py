"""`python -m experiments.docs` writes the tables of README.md and docs/ from committed
JSON, in a checkout.

The code is `rnnctl/cli/docs.py` (installed: `python -m rnnctl.cli.docs`).
Imported (`from experiments import docs`), this module is that module itself.
"""
import sys

if __name__ == "__main__":
    from rnnctl.cli.docs import main
    sys.exit(main())
else:
    from rnnctl.cli import docs as _mod
    sys.modules[__name__] = _mod
