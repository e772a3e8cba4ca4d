"""Prompts, guide resources and Claude Code skills: what an agent reads to decide what to call.

The server is exercised in memory through ``mcp.Client``, as a client would see it. The checks that
matter: prompts and skills name only tools that exist (a prompt sending an agent to a missing tool
wastes a turn and erodes trust), prompts adapt when a tool is not registered, the guides load from
package data, their Python snippets parse, and the tags they recommend are the ones role inference
actually recognises.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from traintriage.commands import MODULES as COMMAND_MODULES
from traintriage.findings import CODES
from traintriage.server.app import build_server
from traintriage.server.prompts._shared import KNOWN_TOOLS
from traintriage.server.resources.guides import GUIDES, read_guide
from traintriage.server.tools import MODULES as TOOL_MODULES  # one module per tool, named as the tool
from traintriage.signals import infer_roles

REPO = Path(__file__).resolve().parents[1]
SKILLS = REPO / "skills"

# The design contract is ../shared/DESIGN.md (beside the repository in the project's checkout). Its tool table
# is read from there when it is present; DESIGN_TOOLS_COPY is what that table said when this was written, for
# a checkout without it, and test_the_copy_of_the_design_tool_table_is_current keeps the two equal.
DESIGN_MD = REPO.parent / "shared" / "DESIGN.md"
DESIGN_TOOLS_COPY = {
    "analyze_loss", "analyze_gradnorm", "count_parameters", "profile_memory", "correlate", "describe_run",
    "triage_sweep", "plot_run",
}
# Tools the contract names that are not built yet (DESIGN.md: "plot_run (or `image` on correlate)").
NOT_YET_REGISTERED: set[str] = set()  # plot_run is registered since issue #20
# Tools beyond the contract, each allowed by the issue that asked for it.
EXTENSIONS = {
    "profile_step",  # issue 19: input_bound "as a new tool profile_step", the issue's own option
    "compare_runs",  # issue 20 section 5: "traintriage compare GOOD BAD (MCP tool compare_runs)"
}
# What the server registers (one module per tool, named as the tool): the only names prompts, guides and
# skills may send an agent to.
REGISTERED_TOOLS = set(TOOL_MODULES)
# The CLI commands of DESIGN.md's table; commands.MODULES adds the ones that exist today (inspect, demo).
DESIGN_COMMANDS = {"loss", "gradnorm", "params", "memory", "triage", "runs", "explain", "serve"}

PROMPT_ARGS = {
    "triage_run": {"run": True, "checkpoint": False, "memory": False},
    "investigate_loss_spike": {"run": True, "step": False},
    "review_sequence_model": {"run": True, "config": False},
    "review_training_config": {"config": True, "checkpoint": False, "capacity": False},
}

# Renderings that cover every branch of every prompt (optional arguments given and omitted).
RENDERINGS = [
    ("triage_run", {"run": "outputs/training/exp"}),
    ("triage_run", {"run": "exp", "checkpoint": "ckpt/model.safetensors", "memory": "trace.json"}),
    ("investigate_loss_spike", {"run": "exp"}),
    ("investigate_loss_spike", {"run": "exp", "step": "703"}),
    ("review_sequence_model", {"run": "exp"}),
    ("review_sequence_model", {"run": "exp", "config": "LSTM 2x512 lr=1e-3 clip=0.25 bptt=35"}),
    ("review_training_config", {"config": "lr: 3e-4\nbatch: 32"}),
    ("review_training_config", {"config": "cfg.yaml", "checkpoint": "init.pt", "capacity": "80GiB"}),
]

CALL_RE = re.compile(r"`([a-z][a-z0-9_]*)\(")  # a tool call written as `name(...)`
MCP_TOOL_RE = re.compile(r"(?<!/)mcp__traintriage__([A-Za-z0-9_*]+)")  # /mcp__traintriage__x is a prompt
MCP_PROMPT_RE = re.compile(r"/mcp__traintriage__([A-Za-z0-9_]+)")
CLI_RE = re.compile(r"`traintriage ([a-z][a-z-]*)")
GUIDE_URI_RE = re.compile(r"traintriage://guide/([a-z-]+)")
REFERENCE_URI_RE = re.compile(r"traintriage://reference/([a-z_{}]+)")


def _text(result) -> str:
    return "\n\n".join(m.content.text for m in result.messages)


def _check_names(text: str, tools: set[str], where: str) -> None:
    """Every tool call, MCP tool name, CLI command and traintriage:// URI in ``text`` must exist."""
    unknown_calls = set(CALL_RE.findall(text)) - tools
    assert not unknown_calls, f"{where} names tools that do not exist: {unknown_calls}"
    unknown_mcp = {n for n in MCP_TOOL_RE.findall(text) if n != "*"} - tools
    assert not unknown_mcp, f"{where} names MCP tools that do not exist: {unknown_mcp}"
    unknown_prompts = set(MCP_PROMPT_RE.findall(text)) - set(PROMPT_ARGS)
    assert not unknown_prompts, f"{where} names prompts that do not exist: {unknown_prompts}"
    unknown_cli = set(CLI_RE.findall(text)) - DESIGN_COMMANDS - set(COMMAND_MODULES)
    assert not unknown_cli, f"{where} names CLI commands that do not exist: {unknown_cli}"
    unknown_guides = set(GUIDE_URI_RE.findall(text)) - set(GUIDES)
    assert not unknown_guides, f"{where} names guides that do not exist: {unknown_guides}"
    unknown_codes = set(REFERENCE_URI_RE.findall(text)) - set(CODES) - {"{code}", "{{code}}"}
    assert not unknown_codes, f"{where} names finding codes that do not exist: {unknown_codes}"


def _tools_in_design_table(text: str) -> set[str]:
    """The MCP tool names in the first column of DESIGN.md's "Tools (MCP) and commands (CLI)" table."""
    section = text.split("## Tools (MCP) and commands (CLI)", 1)[1].split("\n## ", 1)[0]
    first_cells = (line.split("|")[1].strip() for line in section.splitlines() if line.startswith("|"))
    names = {m.group(1) for cell in first_cells if (m := re.match(r"`?([a-z][a-z_]*)\b", cell))}
    return names - {"resources", "server"}  # labels of the rows for resources and `serve`, not tools


def design_tools() -> set[str]:
    """The contract's tools: from the real DESIGN.md when this checkout has it, else the copy above."""
    return _tools_in_design_table(DESIGN_MD.read_text(encoding="utf-8")) if DESIGN_MD.is_file() else DESIGN_TOOLS_COPY


def test_the_copy_of_the_design_tool_table_is_current() -> None:
    if not DESIGN_MD.is_file():
        pytest.skip(f"{DESIGN_MD} is not in this checkout; the copy stands in for it")
    assert _tools_in_design_table(DESIGN_MD.read_text(encoding="utf-8")) == DESIGN_TOOLS_COPY


def test_the_server_registers_the_design_tools() -> None:
    """Every registered tool is in the contract, and every tool of the contract is registered unless it is
    known not to be built yet: a tool added to DESIGN.md, or to the server alone, fails here."""
    assert design_tools() | EXTENSIONS >= REGISTERED_TOOLS
    assert design_tools() - REGISTERED_TOOLS == NOT_YET_REGISTERED
    assert not EXTENSIONS & design_tools(), "a tool now in DESIGN.md is no longer an extension"


def test_the_prompts_known_tools_are_the_registered_ones() -> None:
    assert set(KNOWN_TOOLS) == REGISTERED_TOOLS


# ------------------------------------------------------------------------------------------------
# Prompts
# ------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_prompts_are_listed_with_their_arguments(tmp_path: Path) -> None:
    async with Client(build_server([tmp_path])) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(PROMPT_ARGS) <= set(listed)
    for name, expected in PROMPT_ARGS.items():
        prompt = listed[name]
        assert prompt.description and len(prompt.description) < 400, name
        got = {a.name: a.required for a in prompt.arguments or []}
        assert got == expected, name
        assert all(a.description for a in prompt.arguments or []), f"{name}: every argument needs a description"


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "arguments"), RENDERINGS)
async def test_prompts_name_only_existing_tools(tmp_path: Path, name: str, arguments: dict[str, str]) -> None:
    server = build_server([tmp_path])
    registered = {t.name for t in await server.list_tools()}
    async with Client(server) as client:
        text = _text(await client.get_prompt(name, arguments))
    _check_names(text, registered, f"prompt {name}")
    for value in arguments.values():
        if "\n" not in value:
            assert value in text, f"{name} must pass the argument {value!r} on"


@pytest.mark.anyio
async def test_triage_run_walks_the_two_passes_and_asks_for_the_contract(tmp_path: Path) -> None:
    args = {"run": "outputs/training/exp", "checkpoint": "model.safetensors", "memory": "snap.pickle"}
    async with Client(build_server([tmp_path])) as client:
        result = await client.get_prompt("triage_run", args)
    assert len(result.messages) == 2 and all(m.role == "user" for m in result.messages)
    text = _text(result)
    order = [text.index(f"`{tool}(") for tool in ("describe_run", "analyze_loss", "analyze_gradnorm")]
    assert order == sorted(order), "pass 1 must run describe_run, analyze_loss, analyze_gradnorm in that order"
    assert 'count_parameters(checkpoint="model.safetensors")' in text
    assert 'profile_memory(target="snap.pickle")' in text
    assert "traintriage://reference/{code}" in text
    for section in ("## Top issues", "## Root cause", "## Remediation plan", "## Validation plan"):
        assert section in text
    assert "## What the logs cannot show" in text
    assert "confidence" in text and "smallest safe change first" in text


@pytest.mark.anyio
async def test_triage_run_without_optional_targets_skips_their_tools(tmp_path: Path) -> None:
    async with Client(build_server([tmp_path])) as client:
        text = _text(await client.get_prompt("triage_run", {"run": "exp"}))
    assert "count_parameters(" not in text and "profile_memory(" not in text


async def _correlate_stub(run: str) -> str:
    return run


@pytest.mark.anyio
async def test_prompts_follow_whether_correlate_is_registered(tmp_path: Path) -> None:
    with_tool = build_server([tmp_path])
    if "correlate" not in {t.name for t in await with_tool.list_tools()}:
        with_tool.add_tool(_correlate_stub, name="correlate", description="stub")
    without_tool = build_server([tmp_path])
    if "correlate" in {t.name for t in await without_tool.list_tools()}:
        without_tool.remove_tool("correlate")

    for name in ("triage_run", "investigate_loss_spike", "review_sequence_model"):
        async with Client(with_tool) as client:
            present = _text(await client.get_prompt(name, {"run": "exp"}))
        async with Client(without_tool) as client:
            absent = _text(await client.get_prompt(name, {"run": "exp"}))
        assert '`correlate(run="exp"' in present, name
        assert "correlate(" not in absent, name
        assert "`correlate` is not registered" in absent, name


@pytest.mark.anyio
async def test_review_training_config_uses_an_estimator_only_when_registered(tmp_path: Path) -> None:
    server = build_server([tmp_path])
    args = {"config": "cfg.yaml", "capacity": "80GiB"}
    registered = {t.name for t in await server.list_tools()}
    async with Client(server) as client:
        text = _text(await client.get_prompt("review_training_config", args))
    assert "80GiB" in text
    if "estimate_memory" in registered:
        assert "`estimate_memory(" in text
    else:
        assert "estimate_memory" not in text and "bytes per parameter" in text
        assert "`traintriage memory --estimate" in text and "--capacity 80GiB" in text


@pytest.mark.anyio
async def test_investigate_loss_spike_takes_the_step_as_text(tmp_path: Path) -> None:
    async with Client(build_server([tmp_path])) as client:
        at_step = _text(await client.get_prompt("investigate_loss_spike", {"run": "exp", "step": "703"}))
        worst = _text(await client.get_prompt("investigate_loss_spike", {"run": "exp"}))
    assert "nearest to step 703" in at_step
    assert "most severe loss spike" in worst
    for text in (at_step, worst):
        for check in ("lr", "clip", "stage", "recover"):
            assert check in text


@pytest.mark.anyio
async def test_review_sequence_model_gives_rnn_ranges(tmp_path: Path) -> None:
    async with Client(build_server([tmp_path])) as client:
        text = _text(await client.get_prompt("review_sequence_model", {"run": "exp"}))
    for needle in ("1e-3", "0.25 to 5", "word_language_model", "hidden size", "Sequence length", "Batch size"):
        assert needle.lower() in text.lower(), needle
    assert ".detach()" in text  # the RNN memory-leak cause


@pytest.mark.anyio
async def test_prompt_argument_errors_reach_the_client(tmp_path: Path) -> None:
    async with Client(build_server([tmp_path])) as client:
        with pytest.raises(MCPError):
            await client.get_prompt("triage_run", {})
        with pytest.raises(MCPError):
            await client.get_prompt("investigate_loss_spike", {"run": "exp", "step": "not-a-step"})


# ------------------------------------------------------------------------------------------------
# Guides
# ------------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_guides_are_listed_and_load(tmp_path: Path) -> None:
    async with Client(build_server([tmp_path])) as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        for name in ("checklist", "fix-templates", "logging"):
            uri = f"traintriage://guide/{name}"
            assert uri in listed
            assert listed[uri].mime_type == "text/markdown"
            contents = (await client.read_resource(uri)).contents
            assert len(contents) == 1
            assert contents[0].text == read_guide(name)
            assert contents[0].text.startswith("# ")


def test_unknown_guide_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        read_guide("nope")


@pytest.mark.parametrize("name", sorted(GUIDES))
def test_guide_python_snippets_parse(name: str) -> None:
    blocks = re.findall(r"```python\n(.*?)```", read_guide(name), flags=re.S)
    if name != "checklist":
        assert blocks, f"guide {name} should carry code"
    for block in blocks:
        ast.parse(block)


@pytest.mark.parametrize("name", sorted(GUIDES))
def test_guides_name_only_existing_things(name: str) -> None:
    _check_names(read_guide(name), REGISTERED_TOOLS, f"guide {name}")


def test_fix_templates_cover_the_requested_fixes() -> None:
    text = read_guide("fix-templates")
    for needle in (
        "clip_grad_norm_",
        "max_grad_norm=",
        "gradient_clip_val=",
        "SequentialLR",
        "CosineAnnealingLR",
        'lr_scheduler_type="cosine"',
        "lightning.pytorch.utilities import grad_norm",
        "eval_strategy=",
        "logging_steps=",
        "EarlyStoppingCallback",
        "EarlyStopping(",
        "torch.autograd.detect_anomaly",
        "torch.isfinite",
        "torch.cuda.memory_allocated",
        "torch.cuda.memory_reserved",
        "torch.cuda.max_memory_allocated",
        "profile_memory=True",
        "torch.cuda.memory._record_memory_history",
        "torch.cuda.memory._dump_snapshot",
    ):
        assert needle in text, needle


# The tags the guides recommend, and the role traintriage must give each: guide and inference agree.
RECOMMENDED_TAGS = {
    "loss/train": "train_loss",
    "loss/val": "val_loss",
    "lr": "lr",
    "GradNorm/Total_PreClip": "grad_preclip",
    "GradNorm/Clipped_Total": "grad_postclip",
    "clip_threshold": "clip_threshold",
    "gradnorm/encoder": "grad_component:encoder",
    "gradnorm/decoder": "grad_component:decoder",
    "memory/allocated_mib": "memory",
    "memory/reserved_mib": "memory",
    "memory/max_allocated_mib": "memory",
    "curriculum/stage": "stage",
}


def test_recommended_tags_are_recognised() -> None:
    logging_guide, fixes = read_guide("logging"), read_guide("fix-templates")
    for tag in RECOMMENDED_TAGS:
        assert tag in logging_guide or tag.startswith("gradnorm/"), tag
    for tag in ("gradnorm/<Component>", "GradNorm/Total_PreClip", "GradNorm/Clipped_Total"):
        assert tag in fixes and tag in logging_guide
    roles = infer_roles(list(RECOMMENDED_TAGS))
    assert {tag: roles.role_of(tag) for tag in RECOMMENDED_TAGS} == RECOMMENDED_TAGS
    # Lightning's and HF's own names, which the guides say are recognised as they are.
    lightning = infer_roles(["train_loss", "val_loss", "lr-AdamW", "grad_2.0_norm/layer.weight", "grad_2.0_norm_total"])
    assert (lightning.lr, lightning.grad_total) == ("lr-AdamW", "grad_2.0_norm_total")
    assert lightning.grad_components == {"layer.weight": "grad_2.0_norm/layer.weight"}
    hf = infer_roles(["loss", "eval_loss", "grad_norm", "learning_rate"])
    assert (hf.train_loss, hf.val_loss, hf.grad_total, hf.lr) == ("loss", ["eval_loss"], "grad_norm", "learning_rate")


# ------------------------------------------------------------------------------------------------
# Skills
# ------------------------------------------------------------------------------------------------

SKILL_NAMES = ("training-triage", "loss-curve-critic", "gradnorm-analyze")


def _front_matter(path: Path) -> tuple[dict[str, str], str]:
    """Parse the ``---`` header by hand (flat ``key: value`` lines, no PyYAML), return it and the body."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{path}: front matter must open the file"
    header, sep, body = text[4:].partition("\n---\n")
    assert sep, f"{path}: front matter is not closed"
    fields: dict[str, str] = {}
    for line in header.splitlines():
        key, colon, value = line.partition(":")
        assert colon and re.fullmatch(r"[a-z][a-z-]*", key), f"{path}: bad front matter line {line!r}"
        value = value.strip()
        if value.startswith('"'):
            assert value.endswith('"') and len(value) >= 2, f"{path}: unterminated quote in {key}"
            value = value[1:-1]
        else:  # a plain YAML scalar: ': ' or ' #' inside would change its meaning
            assert ": " not in value and " #" not in value, f"{path}: quote the value of {key}"
        assert key not in fields, f"{path}: {key} twice"
        fields[key] = value
    return fields, body


def _allowed_tools(value: str) -> list[str]:
    """Split a space-separated allowed-tools value, keeping ``Bash(traintriage *)`` whole."""
    return re.findall(r"[^\s(]+(?:\([^)]*\))?", value)


@pytest.mark.parametrize("name", SKILL_NAMES)
def test_skill_front_matter(name: str) -> None:
    fields, body = _front_matter(SKILLS / name / "SKILL.md")
    assert fields["name"] == name
    assert re.fullmatch(r"[a-z0-9-]{1,64}", fields["name"])
    assert 50 < len(fields["description"]) <= 1024
    assert "Use when" in fields["description"], "the description must say when to use the skill"
    tools = _allowed_tools(fields["allowed-tools"])
    assert tools and " ".join(tools) == fields["allowed-tools"]
    for tool in tools:
        if tool.startswith("mcp__"):
            assert tool == "mcp__traintriage__*" or tool.removeprefix("mcp__traintriage__") in REGISTERED_TOOLS, tool
        elif tool.startswith("Bash("):
            assert tool.split("(", 1)[1].split()[0] in {"traintriage", "loss-curve-critic", "gradnorm-analyze"}, tool
    assert body.strip()


def test_training_triage_allows_every_traintriage_tool() -> None:
    fields, _ = _front_matter(SKILLS / "training-triage" / "SKILL.md")
    assert "mcp__traintriage__*" in _allowed_tools(fields["allowed-tools"])


@pytest.mark.parametrize("name", SKILL_NAMES)
def test_skills_name_only_design_tools(name: str) -> None:
    text = (SKILLS / name / "SKILL.md").read_text(encoding="utf-8")
    _check_names(text, REGISTERED_TOOLS, f"skill {name}")


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        (
            "training-triage",
            ["describe_run(", "analyze_loss(", "analyze_gradnorm(", "correlate(", "traintriage triage"],
        ),
        ("loss-curve-critic", ["analyze_loss(", "loss-curve-critic RUN --text --diagnose"]),
        ("gradnorm-analyze", ["analyze_gradnorm(", "gradnorm-analyze RUN --text"]),
    ],
)
def test_skills_work_through_mcp_and_cli(name: str, needles: list[str]) -> None:
    text = (SKILLS / name / "SKILL.md").read_text(encoding="utf-8")
    for needle in needles:
        assert needle in text, needle


def test_skills_readme_says_how_to_install_and_register() -> None:
    text = (SKILLS / "README.md").read_text(encoding="utf-8")
    assert "~/.claude/skills/" in text and ".claude/skills/" in text
    # Registered by the venv's full path (works whatever Claude Code's PATH is); not on PyPI, so no pip install.
    assert 'claude mcp add traintriage -- "$PWD/.venv/bin/traintriage" serve --root /path/to/runs' in text
    assert "pip install traintriage " not in text and "--header \"Authorization: Bearer" in text
    for name in SKILL_NAMES:
        assert name in text
    _check_names(text, REGISTERED_TOOLS, "skills/README.md")
