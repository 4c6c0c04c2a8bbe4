"""Models as workloads: each a plug-in, like a framework.

A model says what it takes (named inputs with dtypes and shapes), how its seeded weights and
inputs are made, how close every framework must come to its reference, and how each framework
builds it natively. Nothing here imports a deep-learning framework at module level: the parent
imports these modules for their specs, and only a runner calls a builder.
"""
