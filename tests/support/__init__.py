"""Test support: the local Kubernetes control plane and its pytest fixtures."""
