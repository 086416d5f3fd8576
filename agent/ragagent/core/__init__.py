"""The bottom layer: settings (and ``settings_env``, their environment variables), the
database pool and its retries, the embedded PostgreSQL, plain models, errors,
credentials, rate limits, logging, metrics, telemetry and the uvicorn server. It imports
no other agent package.
"""
