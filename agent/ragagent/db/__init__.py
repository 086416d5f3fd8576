"""The SQL for each table, and the migrations. Functions take a ``core.db`` connection
or database and return ``core.models`` or small row types; none imports the RAG code.
"""
