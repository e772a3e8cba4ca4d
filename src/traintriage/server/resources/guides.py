"""Resources ``traintriage://guide/{checklist,fix-templates,logging}``: how to debug, fix and log a run.

The reference pages explain one finding code each; the guides are what an agent needs around them:
the order of checks (checklist), code for the usual fixes in PyTorch, HF Trainer and Lightning
(fix-templates), and what a training script must log for traintriage to diagnose it (logging). They
are static markdown in ``traintriage/references/guides/``, registered one resource each so that they
show up in ``resources/list`` without a template.
"""

from __future__ import annotations

from importlib import resources

from mcp.server.mcpserver import MCPServer

from ..context import ServerContext

GUIDES: dict[str, str] = {
    "checklist": "Debugging checklist for a training run gone wrong: the order of checks and what each rules out.",
    "fix-templates": "Code for common fixes in PyTorch, HF Trainer and Lightning: clipping, warmup + cosine LR, "
    "per-component grad-norm logging, early stopping, NaN detection, memory logging and profiling.",
    "logging": "What to log so traintriage can diagnose a run (loss, val loss, LR, grad norms, clipping, memory, "
    "stage), with code for plain PyTorch, HF Trainer, Lightning and Keras.",
}


def read_guide(name: str) -> str:
    """The markdown of a guide; raises KeyError for an unknown name."""
    if name not in GUIDES:
        raise KeyError(name)
    return resources.files("traintriage.references.guides").joinpath(f"{name}.md").read_text(encoding="utf-8")


def register(server: MCPServer, ctx: ServerContext) -> None:
    for name, description in GUIDES.items():
        _register_one(server, name, description)


def _register_one(server: MCPServer, name: str, description: str) -> None:
    # One function per guide, bound to its name: a loop variable captured by a closure would serve the last.
    @server.resource(
        f"traintriage://guide/{name}",
        name=f"guide-{name}",
        description=description,
        mime_type="text/markdown",
    )
    def guide() -> str:
        return read_guide(name)
