"""Service functions shared by pages, the API, the CLI and the worker (no request objects)."""
