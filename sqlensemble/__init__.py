"""sqlensemble: text-to-SQL with several fine-tuned generators and an execution-based vote.

The root package holds the core that every area shares: the database catalog, schema rendering,
prompts, SQL extraction, the SQL guard, read-only execution, result equivalence and voting. The areas
live in their own packages: ``sqlensemble.train`` (fine-tuning), ``sqlensemble.serve`` (vLLM engines),
``sqlensemble.ensemble`` (the gateway) and ``sqlensemble.eval`` (BIRD evaluation).
"""

from __future__ import annotations

__version__ = "0.1.0"
