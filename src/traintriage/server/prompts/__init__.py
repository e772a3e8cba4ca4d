"""MCP prompt adapters, one module per workflow, each with ``register(server, ctx)``."""

MODULES: list[str] = []
