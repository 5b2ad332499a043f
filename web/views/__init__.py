"""Blueprints: request handling and templates only; rows come through web.access, work
through web.services."""
