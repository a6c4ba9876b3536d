"""The rules' home: each source record judged once into a verdict that every reader uses (pure).

Every condition of the business rules is tested in this folder and nowhere
else: a customer's remote access, an order's visibility on the portal, an
account's `enabled`, the agency flag and `rules.agency_without_customer_access`,
the built-in contact type, unique ids and logins, an order's references.

- `fields`: a parsed record read tolerantly, one field at a time;
- `references`: references spelled as the ids they name (ids compare
  without regard to case);
- `shop`: the records of a source, each with its model and its parsed data,
  and the indexes between them;
- `judge`: one record judged into a `Verdict`: the entry it wants, the
  memberships it grants or cannot tell, whether its entry is held, its record
  problems, why the rules left it without an entry;
- `dependencies`: the records a verdict depends on;
- `verdicts`: every record judged (`Verdicts`), and what the readers ask of
  them: the entries' values, the grants, the decisions, the accounts.

The readers: the desired entries (`sync.core.desired`), the plan and the
portal through `Verdicts.grants`, the run report's errors and decisions,
`access --compare`, `run --explain` and the console. None of them tests a
condition of its own.
"""

from sync.core.rules.fields import FIELDS_READ, keep_fields_read
from sync.core.rules.judge import Verdict
from sync.core.rules.verdicts import Account, Verdicts

__all__ = ["FIELDS_READ", "Account", "Verdict", "Verdicts", "keep_fields_read"]
