"""Pure builders: a RagAgent (plus inputs the steps read from the cluster) in, manifest dicts out.

Nothing in this package performs I/O (an import-linter contract holds it): the
``steps`` gather the inputs and hand the results to ``k8s`` through ``Context.ensure``.
One module per kind; ``common`` has the Agent view, names, labels and metadata, and
``job`` the pod and Job every one-shot ``ragagent`` command runs in.
"""
