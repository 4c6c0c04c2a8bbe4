"""Offline quantizers, one module per framework, each run by ``python -m runners.quantize`` in
its framework's environment (the registry record's ``quantizer``), never in a measured runner."""
