"""The bottom layer: settings, the database pool, plain models, errors, credentials,
rate limits, logging, metrics, telemetry and the uvicorn server. It imports no other
agent package.
"""
