"""Runner subprocesses: one framework each, started by the orchestrator as ``python -m runners``.

Importing this package imports no framework; each runner module imports its own inside
:meth:`runners.base.Runner.import_framework`, in the worker process only.
"""
