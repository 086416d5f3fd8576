"""The RAG pipeline: parsing, chunking, embedding, ingestion, hybrid retrieval,
prompts and the answerers, plus re-indexing. It uses ``db`` for SQL and ``core``
for everything else, and knows nothing of HTTP.
"""
