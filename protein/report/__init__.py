"""What a finished (or running) study tells a researcher.

``markdown`` writes the report folder (results.csv, topk.json, best_config.yaml,
SUMMARY.md) with ``plots``; ``summary`` is the terminal summary; ``stats`` the figures a
comparison of studies needs.
"""

from protein.report.markdown import reproduce_command, run_spec, write_report

__all__ = ["reproduce_command", "run_spec", "write_report"]
