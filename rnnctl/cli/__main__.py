"""`python -m rnnctl.cli COMMAND ...`: the `rnnctl` console script without its wrapper."""
from rnnctl.cli import main

main()
