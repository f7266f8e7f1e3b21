"""Real training loops that Protein sweeps, and examples of wiring a loop to any optimizer.

Each trainer module exposes::

    train(params, *, seed=0, device=None, report=None) -> {"score": float, "cost": float, ...}

``params`` is the nested config dict; ``report(step, value, cost)`` is called with
intermediate results (``cost``: what the run has spent so far, in the unit of the result's
``cost``) and returns True when the run should stop early. Running a module as a script
reads ``--a.b=value`` flags and prints the result as the last JSON line, which is what
``protein run --command`` reads. Trainers never import ``protein``.
"""
