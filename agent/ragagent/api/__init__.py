"""The HTTP and WebSocket interface: dependencies (``deps``), the middleware stack,
problem+json errors, the schemas and one router per resource (``routes``).

Routes read the process's ``AppState`` through ``deps.StateDep`` and hand the work
to ``services`` (a chat turn) or to ``rag`` and ``db`` directly (ingest, list).
"""
