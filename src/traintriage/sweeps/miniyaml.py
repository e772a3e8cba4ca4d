"""Enough YAML for hyperparameter files (Lightning's ``hparams.yaml``, Hydra's ``overrides.yaml``), no dependency.

PyYAML is not a dependency of traintriage; when it happens to be installed, :func:`load` uses its
``safe_load`` (which never constructs Python objects), and falls back to the subset parser here when it
is missing or refuses a document (Lightning sometimes dumps ``!!python/object`` tags, which
``safe_load`` rejects). The subset: block mappings and lists by indentation (including the
``key:\\n- item`` style that ``yaml.dump`` writes), plain, quoted and flow (``[a, b]``, ``{a: 1}``)
scalars, ``null``/``~``, booleans, numbers, comments, block strings (``|``, ``>``). Tags and anchors
are dropped and the value under them is read as plain data: nothing is ever constructed or executed.
"""

from __future__ import annotations

import json
import re
from typing import Any

_INT_RE = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_FLOAT_RE = re.compile(r"^[-+]?([0-9][0-9_]*)?(\.[0-9_]*)?([eE][-+]?[0-9]+)?$")
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
_TAG_RE = re.compile(r"^(!!?[\w/:.\-]*|&\w+)\s*")


def load(text: str) -> Any:
    """Parse ``text``: PyYAML's ``safe_load`` when installed and willing, else the subset parser."""
    try:
        import yaml  # optional; imported lazily, never required
    except ImportError:
        return parse(text)
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # a safe loader: builds no objects
    except yaml.YAMLError:
        return parse(text)


def parse(text: str) -> Any:
    """The subset parser (see module docstring); raises ValueError on what it does not understand."""
    lines = _lines(text)
    if not lines:
        return None
    value, i = _block(lines, 0, lines[0][0])
    if i != len(lines):
        raise ValueError(f"unexpected indentation at line {i + 1} of the document")
    return value


def _strip_comment(line: str) -> str:
    """Drop a ``#`` comment that is not inside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _lines(text: str) -> list[tuple[int, str]]:
    out = []
    for raw in text.splitlines():
        if raw.strip() in ("---", "...") or raw.lstrip().startswith("%"):
            continue
        line = _strip_comment(raw.replace("\t", "    "))
        if line.strip():
            out.append((len(line) - len(line.lstrip(" ")), line.strip()))
    return out


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    content = lines[i][1]
    if content == "-" or content.startswith("- "):
        return _list(lines, i, indent)
    return _mapping(lines, i, indent)


def _split_key(content: str) -> tuple[str, str] | None:
    """``key: value`` -> (key, value); quoted keys allowed; None when the line is not a mapping entry."""
    if content[:1] in "'\"":
        end = content.find(content[0], 1)
        if end > 0 and content[end + 1 : end + 2] == ":":
            return content[1:end], content[end + 2 :].strip()
        return None
    match = re.match(r"^([^:]+?):(\s+(.*))?$", content)
    if not match:
        return None
    return match.group(1).strip(), (match.group(3) or "").strip()


def _mapping(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[dict, int]:
    out: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        content = lines[i][1]
        if content == "-" or content.startswith("- "):
            break
        kv = _split_key(content)
        if kv is None:
            raise ValueError(f"expected 'key: value', got {content[:60]!r}")
        key, rest = kv
        rest = _TAG_RE.sub("", rest) if rest.startswith(("!", "&")) else rest
        i += 1
        if rest in ("|", ">", "|-", ">-", "|+", ">+"):
            block = []
            while i < len(lines) and lines[i][0] > indent:
                block.append(lines[i][1])
                i += 1
            out[key] = ("\n" if rest.startswith("|") else " ").join(block)
        elif rest:
            out[key] = scalar(rest)
        elif i < len(lines) and lines[i][0] > indent:
            out[key], i = _block(lines, i, lines[i][0])
        elif i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- ")):
            out[key], i = _list(lines, i, indent)  # yaml.dump writes `key:\n- item` at the key's indentation
        else:
            out[key] = None
    return out, i


def _list(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[list, int]:
    out: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and (lines[i][1] == "-" or lines[i][1].startswith("- ")):
        rest = lines[i][1][1:].strip()
        if not rest:
            i += 1
            if i < len(lines) and lines[i][0] > indent:
                item, i = _block(lines, i, lines[i][0])
                out.append(item)
            else:
                out.append(None)
        elif _split_key(rest) is not None and not rest.startswith(("[", "{", "'", '"')):
            # "- key: value" opens a mapping whose keys sit where "key" starts.
            child = indent + 2 + (len(lines[i][1]) - 2 - len(rest))
            lines[i] = (child, rest)
            item, i = _mapping(lines, i, child)
            out.append(item)
        else:
            out.append(scalar(rest))
            i += 1
    return out, i


def _split_flow(inner: str) -> list[str]:
    parts, depth, quote, start = [], 0, None, 0
    for j, ch in enumerate(inner):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:j])
            start = j + 1
    parts.append(inner[start:])
    return [p.strip() for p in parts if p.strip()]


def scalar(text: str) -> Any:
    """One YAML scalar (plain, quoted or flow) as a Python value; tags and anchors are dropped."""
    text = text.strip()
    if text.startswith(("!", "&")):
        text = _TAG_RE.sub("", text)
    if not text:
        return None
    if text[0] == '"' and text.endswith('"') and len(text) >= 2:
        try:
            return json.loads(text)
        except ValueError:
            return text[1:-1]
    if text[0] == "'" and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    if text[0] == "[" and text.endswith("]"):
        return [scalar(p) for p in _split_flow(text[1:-1])]
    if text[0] == "{" and text.endswith("}"):
        out = {}
        for part in _split_flow(text[1:-1]):
            kv = _split_key(part) or (part, "")
            out[str(kv[0])] = scalar(kv[1])
        return out
    low = text.lower()
    if low in ("null", "~"):
        return None
    if low in _BOOLS:
        return _BOOLS[low]
    if low in (".inf", "+.inf"):
        return float("inf")
    if low == "-.inf":
        return float("-inf")
    if low == ".nan":
        return float("nan")
    if _INT_RE.match(text):
        return int(text.replace("_", ""))
    if _FLOAT_RE.match(text) and any(c.isdigit() for c in text):
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    return text
