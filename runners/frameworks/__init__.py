"""One module per framework: how it imports, holds its threads, loads a model and calls it.

Each is named by one record in runners/registry.py, and imported only in its worker."""
