"""The ``html`` report format: report.html, one self-contained page per run.

page.py assembles the page and writes it; table.py is the sortable summary table; sections.py
the warnings, settings and environments; chart.py what every chart shares, and one module per
kind of chart (latency.py, phases.py, sweeps.py, roofline.py, fidelity.py). plotly draws the
charts and its JavaScript is inlined, so the page opens from disk with no network.
"""
