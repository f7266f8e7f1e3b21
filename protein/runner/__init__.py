"""``protein run``: a supervisor and worker processes that ask, train and tell.

``spec`` the run's settings; ``supervisor`` starts and watches the workers (``ray`` for
Ray tasks) and shows ``progress``; ``worker`` is the ask-run-tell loop; ``execute`` runs one
trial's trainer function or command.
"""

from protein.runner.spec import RunSpec, trial_dir
from protein.runner.supervisor import supervise
from protein.runner.worker import run_trial

__all__ = ["RunSpec", "run_trial", "supervise", "trial_dir"]
