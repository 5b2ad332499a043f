"""The Celery worker: grades submissions inside the web app's context (Superset/Redash style).

Depends on ``web`` (models, service functions) and ``grader``; nothing imports it but Celery.
"""
