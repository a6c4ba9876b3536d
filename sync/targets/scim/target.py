"""The SCIM target as the table of targets calls it (`sync.targets`)."""

from sync.targets.scim.check import check_lines
from sync.targets.scim.run import locked_scim as locked
from sync.targets.scim.run import run_scim as run

__all__ = ["check_lines", "locked", "run"]
