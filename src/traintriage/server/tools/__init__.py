"""MCP tool adapters, one module per tool, each with ``register(server, ctx)``.

To add a tool: write ``tools/<name>.py`` (thin: parse arguments, call the library, return its
record (:mod:`traintriage.record`); wrap the function in ``context.user_errors``; import analysis code inside the
function) and add its module name to ``MODULES``.
"""

MODULES: list[str] = [
    "describe_run",
    "analyze_loss",
    "correlate",
    "analyze_gradnorm",
    "profile_memory",
    "profile_step",
    "count_parameters",
    "triage_sweep",
    "plot_run",
    "compare_runs",
]
