"""The API client's errors: what callers of ``k8s`` catch instead of httpx's own."""

from __future__ import annotations

from ragagent_operator import manifest


class KubeError(RuntimeError):
    """The base of the k8s errors: the API server did not do what was asked.

    Callers that only need to know that a request failed catch this one; the two
    subclasses say whether the server refused it or never answered.
    """


class ApiError(KubeError):
    """The API server refused a request; ``status`` is the HTTP code, the message its reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class ChildConflict(KubeError):
    """An object the reconcile would write exists but is not the RagAgent's child (no controller
    owner reference with its uid): a namesake it must not take over. Nothing was written."""

    def __init__(self, obj: manifest.Manifest) -> None:
        super().__init__(f"{manifest.describe(obj)} exists and is not owned by this RagAgent")
        self.object = manifest.describe(obj)


class Unreachable(KubeError):
    """No usable answer: the connection failed or timed out, or the response was broken.

    Raised from httpx's own errors, which never leave the k8s package.
    """
