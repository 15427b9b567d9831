"""``python -m lfx_cal``: the same as the ``lfx-cal`` command."""

from lfx_cal.cli import main

main()
