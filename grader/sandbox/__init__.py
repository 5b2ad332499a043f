"""Run untrusted submissions out of process: a warm zygote forks one child per submission."""

from grader.sandbox.host import Reply, Sandbox, SandboxError, Session, SessionEnded

__all__ = ["Reply", "Sandbox", "SandboxError", "Session", "SessionEnded"]
