"""RagAgent operator: reconciles RagAgent resources into a hardened chat service."""

__version__ = "0.1.0"
