"""Where ``TimeBudget`` used to live: it is now ganglion's own
(:class:`ganglion.training.time_budget.TimeBudget`), shared by every plugin. This name stays so
that configs and run directories written with ``ganglion_asr.callbacks.TimeBudget`` still work.
"""

from ganglion.training.time_budget import TimeBudget

__all__ = ["TimeBudget"]
