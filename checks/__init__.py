"""mcdiag's built-in checks, installed as :mod:`mcdiag.checks` (the repository keeps them at its root).

One module per check family; each check is a small :class:`mcdiag.model.Check`
class that imports its helpers from :mod:`mcdiag` (facts, targets), never from
another check module. Module names do not match pytest's ``test_*.py`` pattern
on purpose: pytest collects checks through mcdiag's plugin, never as test modules.
"""
