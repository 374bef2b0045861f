"""The learning side of soundalike: audio front end, network, encoder, trainer, evaluation.

No Qt and no ``app`` imports here (checked by import-linter).
"""

import os

# OpenMP threads that spin-wait for each other collapse when a core is busy with something
# else (a decoder thread, the GUI, a video editor): on a loaded 2-core machine the network
# ran at 20-30x realtime with GCC's default (active) policy and 90-130x with PASSIVE.
# Only effective when set before torch is first imported, hence here; a user's own
# OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
