"""RagAgent operator: reconciles RagAgent resources into a hardened chat service.

Layers, top to bottom (``pyproject.toml`` holds them as import-linter contracts, and
``make lint`` fails on an upward import): ``main`` (kopf registrations) -> ``reconcile``
(runs the steps) | ``resync`` -> ``steps`` (one ``ensure_*`` per child, in order) ->
``context`` (one reconcile's state) | ``job_reports`` -> ``k8s`` (the only API client) |
``render`` (pure builders) | ``crd`` | ``job_events`` -> pure helpers (``backup_status``,
``status``, ``sealing``, ``quantity``, ...) -> ``spec`` (the API models) -> ``conditions``
| ``manifest`` -> ``constants``.
"""

__version__ = "0.1.0"
