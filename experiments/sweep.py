"""`python -m experiments.sweep`: the `rnnctl sweep` command, in a checkout.

The code is `rnnctl/cli/sweep.py`; installed, the same command is `rnnctl sweep`. Imported
(`from experiments import sweep`), this module is `rnnctl.cli.sweep` itself: the same names
and the same module object, so a test that patches one patches the other.
"""
import sys

PROG = "python -m experiments.sweep"

if __name__ == "__main__":
    from rnnctl.cli import run
    run("sweep", prog=PROG)
else:
    from rnnctl.cli import sweep as _cli
    _cli.PROG = PROG        # messages name the command as it is typed in a checkout
    sys.modules[__name__] = _cli
