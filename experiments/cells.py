"""`python -m experiments.cells`: the `rnnctl cells` command, in a checkout.

The code is `rnnctl/cli/cells.py`; installed, the same command is `rnnctl cells`. Imported
(`from experiments import cells`), this module is `rnnctl.cli.cells` itself: the same names
and the same module object, so a test that patches one patches the other.
"""
import sys

PROG = "python -m experiments.cells"

if __name__ == "__main__":
    from rnnctl.cli import run
    run("cells", prog=PROG)
else:
    from rnnctl.cli import cells as _cli
    _cli.PROG = PROG        # messages name the command as it is typed in a checkout
    sys.modules[__name__] = _cli
