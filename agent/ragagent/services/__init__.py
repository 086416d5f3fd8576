"""Work that spans several clients: a chat turn (``chat``), who is calling (``auth``)
and conversation retention and erasure (``retention``).

Services receive the clients they use, never the whole ``AppState`` (which sits above
them and holds them).
"""
