"""`python -m experiments.dynamics`: the `rnnctl dynamics` command, in a checkout.

The code is `rnnctl/cli/dynamics.py`; installed, the same command is `rnnctl dynamics`.
Imported (`from experiments import dynamics`), this module is `rnnctl.cli.dynamics` itself:
the same names and the same module object, so a test that patches one patches the other.
"""
import sys

PROG = "python -m experiments.dynamics"

if __name__ == "__main__":
    from rnnctl.cli import run
    run("dynamics", prog=PROG)
else:
    from rnnctl.cli import dynamics as _cli
    _cli.PROG = PROG        # messages name the command as it is typed in a checkout
    sys.modules[__name__] = _cli
