"""Pure builders: a RagAgent (plus facts read from the cluster) in, manifest dicts out.

Nothing in this package performs I/O; ``reconcile`` gathers the inputs and
``k8s`` sends the results.
"""
