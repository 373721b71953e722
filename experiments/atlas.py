"""`python -m experiments.atlas`: the `rnnctl atlas` command, in a checkout.

The code is `rnnctl/cli/atlas.py`; installed, the same command is `rnnctl atlas`. Imported
(`from experiments import atlas`), this module is `rnnctl.cli.atlas` itself: the same names
and the same module object, so a test that patches one patches the other.
"""
import sys

PROG = "python -m experiments.atlas"

if __name__ == "__main__":
    from rnnctl.cli import run
    run("atlas", prog=PROG)
else:
    from rnnctl.cli import atlas as _cli
    _cli.PROG = PROG        # messages name the command as it is typed in a checkout
    sys.modules[__name__] = _cli
