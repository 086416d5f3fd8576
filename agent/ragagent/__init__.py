"""RagAgent: production-grade RAG chat over PostgreSQL + pgvector."""

__version__ = "0.1.0"
