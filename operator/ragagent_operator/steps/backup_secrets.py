"""The Secrets only the backup and restore Jobs read: the bucket's credentials and the age
identity. The same rule as every referenced Secret holds (labelled ragagent.dev/use=true):
an unlabelled one is refused, so no pod that would read it is written, and a missing one
is named in SecretsReady. They are not hashed into the server's pods, which never read them.
"""

from __future__ import annotations

from ragagent_operator import conditions, context, k8s, manifest
from ragagent_operator.render import backup_offsite
from ragagent_operator.steps.secrets import NOT_MARKED


async def ensure_backup_secrets(ctx: context.Context) -> None:
    agent = ctx.agent
    refused, missing = [], []
    for name in backup_offsite.secret_names(agent):
        live = await k8s.get(ctx.api, "v1", "Secret", agent.namespace, name)
        if live is None:
            missing.append(name)
        elif not manifest.is_marked_for_use(live):
            refused.append(manifest.describe({**live, "kind": "Secret"}))
    if refused:
        ctx.refused += refused
        message = f"{', '.join(refused)}: {NOT_MARKED}; no pod that reads it is written"
        ctx.note(conditions.Type.SECRETS_READY, False, conditions.Reason.REFERENCE_NOT_ALLOWED,
                 message)  # fmt: skip
    if missing:
        ctx.note(conditions.Type.SECRETS_READY, False, conditions.Reason.SECRET_NOT_FOUND,
                 "missing Secrets: " + ", ".join(missing))  # fmt: skip
