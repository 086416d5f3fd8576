"""The usage CronJob: ``ragagent usage --report`` every few minutes, for ``status.usage``.

The operator has no database credentials and must not get any, so it learns the month's
token usage the way it learns every result only a pod can see: a Job whose container
leaves one compact JSON line as its termination message (``services.usage_report`` in
the agent), which the status step reads from the pod status. The same run deletes token
reservations that expired long ago, so no other process needs to.
"""

from __future__ import annotations

from typing import Any

from ragagent_operator import constants as c
from ragagent_operator.render import common, job, secrets

SCHEDULE = "*/10 * * * *"
# Two cheap queries: no retry (the next run is minutes away) and a short deadline.
RUN = job.Run(c.COMPONENT_USAGE, c.Annotation.SPEC_HASH, backoff_limit=0, deadline_seconds=300)
USAGE_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"memory": "256Mi"},
}


def usage_cronjob_name(agent: common.Agent) -> str:
    return common.name_of(agent, "usage")


def is_reporting_usage(agent: common.Agent) -> bool:
    """True when the spec asks for what the report gives: a monthly budget or prices."""
    budgets = agent.spec.budgets
    return budgets.agent_monthly_tokens > 0 or bool(budgets.prices)


def build_usage_cronjob(
    agent: common.Agent, *, image: str, suspend: bool = False
) -> common.Manifest:
    """One run of each outcome is kept, the newest being all the status reads. ``suspend``
    while a restore runs: the database is being replaced."""
    pod = job.build_job_pod(
        agent,
        name="usage",
        image=image,
        args=["usage", "--report"],
        refs=[secrets.database_ref(agent)],
        resources=USAGE_RESOURCES,
        volumes=[job.TMP],
        reports=True,
    )
    name = usage_cronjob_name(agent)
    return job.build_cronjob(
        agent, RUN, name=name, schedule=SCHEDULE, pod=pod, suspend=suspend, history=1,
        starting_deadline_seconds=300,
    )  # fmt: skip
