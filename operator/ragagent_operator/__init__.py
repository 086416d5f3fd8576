"""RagAgent operator: reconciles RagAgent resources into a hardened chat service.

Layers, top to bottom (``pyproject.toml`` holds them as import-linter contracts):
``main`` (kopf registrations) -> ``reconcile`` (runs the steps) -> ``steps`` (one
``ensure_*`` per child, in order) -> ``context`` (one reconcile's state) -> ``k8s``
(the only API client) | ``render`` (pure builders) -> ``spec`` (the API models) ->
``constants``.
"""

__version__ = "0.1.0"
