"""Statistics on study results: gain intervals paired by seed and test example, and verdicts."""

from transferlab.analysis.intervals import GainInterval, mean_interval, paired_gain_interval
from transferlab.analysis.verdicts import VERDICTS, compare_arms, verdict

__all__ = ["VERDICTS", "GainInterval", "compare_arms", "mean_interval", "paired_gain_interval", "verdict"]
