"""MCP resource adapters, one module per family, each with ``register(server, ctx)``."""

MODULES: list[str] = [
    "runs",
    "reference",
    "guides",
]
