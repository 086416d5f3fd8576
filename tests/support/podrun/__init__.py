"""Run one container of a rendered Kubernetes pod spec with podman, as a kubelet would.

``translate.build_run_plan`` is pure: a pod spec (the dict the operator's render functions
return) plus the objects it references becomes a ``model.RunPlan``: the ``podman run``
arguments and the files, directories and symlinks the volumes need on the host.
``materialise.write_layout`` writes those, and ``runner`` runs the plan with podman.

Every field of the spec is either translated, deliberately ignored for a stated reason
(scheduling, image pulls), or refused with ``model.UnsupportedFieldError``: a field the
operator starts to render that the translator does not know fails the tests instead of
being dropped, so the container tests cannot drift from the rendered pods.
"""
