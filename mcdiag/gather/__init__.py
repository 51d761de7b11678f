"""Gathering: from kubeconfigs to the in-memory view of each cluster that checks judge.

- :mod:`~mcdiag.gather.kubeconfig`: which clusters were given and how to reach them;
- :mod:`~mcdiag.gather.api`: the live API source (bounded requests, paginated lists);
- :mod:`~mcdiag.gather.snapshot`: a saved snapshot as a source, and the snapshot writer;
- :mod:`~mcdiag.gather.resources`: what checks declare they read;
- :mod:`~mcdiag.gather.redact`: secrets removed on arrival;
- :mod:`~mcdiag.gather.view`: each cluster's cached reads and derived facts.
"""
