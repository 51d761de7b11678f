"""The run: :mod:`~mcdiag.run.options` (what a run is told), :mod:`~mcdiag.run.registry` (which checks exist),
:mod:`~mcdiag.run.runner` (tasks, concurrently, under timeouts) and :mod:`~mcdiag.run.session` (one run, start to end).
"""
