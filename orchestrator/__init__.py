"""The parent process: plans a benchmark, runs each cell in its own subprocess, aggregates.

Nothing here imports a deep-learning framework, directly or through another module.
"""
