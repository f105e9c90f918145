"""``python -m sequencer_net`` runs the ``sequencer-net`` command."""

import sys

from .cli import main

sys.exit(main())
