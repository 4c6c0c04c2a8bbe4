"""The parent process: plans a benchmark, runs each cell in its own subprocess, aggregates.

Nothing here imports a deep-learning framework, directly or through another module.
"""

from pathlib import Path

# The checkout: constraints.txt, the git commit a run records.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
