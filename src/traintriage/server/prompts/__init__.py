"""MCP prompt adapters, one module per workflow, each with ``register(server, ctx)``."""

MODULES: list[str] = [
    "triage_run",
    "investigate_loss_spike",
    "review_sequence_model",
    "review_training_config",
]
