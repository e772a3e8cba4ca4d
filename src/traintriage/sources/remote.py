"""Remote targets (``s3://``, ``gs://``, ``memory://``, any fsspec filesystem), copied into a local cache.

The readers work on local files (memory-mapped event files, offsets into growing files), so a remote
target is mirrored first: only the files an analysis reads (log formats, hyperparameter files, MLflow
``metrics/``/``params/``), streamed to disk one by one, into a cache directory keyed by the URL
(``$TRAINTRIAGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/traintriage``, else ``~/.cache/traintriage``,
then ``remote/``). A second sweep of the same URL downloads only what changed (size or
modification stamp differs) and drops what disappeared, so the local caches keyed by file identity
keep working. fsspec is optional (``pip install 'traintriage[remote]'``, plus ``s3fs``/``gcsfs`` for
clouds) and imported only here.

Security: a remote URL is readable only under a remote root, with the local roots' prefix semantics
(``s3://bucket/runs`` allows ``s3://bucket/runs/sweep1`` but not ``s3://bucket/runs2``); ``..``
components are refused, and object keys that would land outside the cache directory are skipped.
Remote roots come from the caller (``--root s3://...`` on the command line) or from the environment
variable ``TRAINTRIAGE_REMOTE_ROOTS`` (space- or comma-separated), which is how an MCP server started
by a client gets them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ..errors import InputError, OutsideRootsError, TargetNotFoundError

ENV_ROOTS = "TRAINTRIAGE_REMOTE_ROOTS"
ENV_CACHE = "TRAINTRIAGE_CACHE_DIR"
MAX_FILES = 20_000
MAX_BYTES = 4 << 30
MANIFEST = ".traintriage-mirror.json"

_URL_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*)://(.*)$")
_LOCAL_SCHEMES = frozenset({"file", "local", "sqlite"})
_HPARAM_NAMES = frozenset(
    {
        "params.json",
        "hparams.yaml",
        "hparams.yml",
        "hparams.json",
        "args.json",
        "config.json",
        "training_args.json",
        "overrides.yaml",
    }
)
_MLFLOW_DIRS = frozenset({"metrics", "params", "tags"})


def is_remote(target: str) -> bool:
    """True for ``scheme://...`` URLs other than local ones (``file://``) and database URLs."""
    match = _URL_RE.match(target.strip())
    return bool(match) and match.group(1).lower() not in _LOCAL_SCHEMES


def normalize_url(url: str) -> str:
    """``S3://bucket//a/./b/`` -> ``s3://bucket/a/b``; a ``..`` component is refused, never resolved."""
    match = _URL_RE.match(url.strip())
    if not match:
        raise InputError(f"{url!r} is not a URL.", hint="Remote targets look like s3://bucket/prefix.")
    scheme, rest = match.group(1).lower(), match.group(2)
    parts = [p for p in rest.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(f"{url!r} contains '..'.", hint="Name the remote directory without '..'.")
    return f"{scheme}://" + "/".join(parts)


def env_remote_roots() -> list[str]:
    return [r for r in re.split(r"[\s,]+", os.environ.get(ENV_ROOTS, "")) if r]


def check_remote_roots(url: str, remote_roots: Sequence[str] | None) -> str:
    """The normalised URL when it lies under one of ``remote_roots`` (or those in the environment)."""
    target = normalize_url(url)
    roots = [normalize_url(r) for r in [*(remote_roots or []), *env_remote_roots()] if is_remote(r)]
    for root in roots:
        if target == root or target.startswith(root + "/"):
            return target
    raise OutsideRootsError(
        "remote URLs are readable only under a remote root, and this one is under none.",
        hint=(
            "Allowed remote roots: " + ", ".join(roots) + "."
            if roots
            else "Allow a prefix with --root s3://bucket/prefix (command line), or set "
            f"{ENV_ROOTS}='s3://bucket/prefix' in the environment of the MCP server."
        ),
    )


def _filesystem(url: str):
    try:
        import fsspec
    except ImportError:
        raise InputError(
            f"reading {url.split('://', 1)[0]}:// targets needs fsspec, which is not installed.",
            hint="pip install 'traintriage[remote]' (and s3fs for s3://, gcsfs for gs://, adlfs for az://).",
        ) from None
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as err:
        raise InputError(
            f"fsspec cannot open {url.split('://', 1)[0]}:// ({err}).",
            hint="Install the filesystem's package (s3fs, gcsfs, adlfs, ...) next to fsspec.",
        ) from None


def cache_root(cache_dir: Path | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "traintriage"


def wanted(rel: str) -> bool:
    """Whether an analysis reads this file (by its path relative to the mirrored prefix)."""
    from .inventory import may_be_log

    parts = rel.split("/")
    name = parts[-1]
    return may_be_log(PurePosixPath(rel)) or name in _HPARAM_NAMES or any(p in _MLFLOW_DIRS for p in parts[:-1])


def _safe_rel(full: str, base: str) -> str | None:
    """``full`` relative to ``base``, or None when it is not below it or would escape the cache dir."""
    full, base = full.rstrip("/"), base.rstrip("/")
    if full == base:
        return None
    if not full.startswith(base + "/"):
        return None
    rel = full[len(base) + 1 :]
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\\" in rel or "\x00" in rel:
        return None
    return rel


def _signature(info: dict) -> str:
    stamp = next(
        (
            info[k]
            for k in ("mtime", "LastModified", "last_modified", "updated", "ETag", "etag", "md5Hash", "created")
            if info.get(k) is not None
        ),
        None,
    )
    return f"{info.get('size')}|{stamp}"


def mirror(url: str, *, cache_dir: Path | None = None) -> Path:
    """Copy what an analysis of ``url`` (a remote directory or file) reads into the local cache; return
    the local directory that stands for it. ``url`` must already be checked against the remote roots."""
    fs, path = _filesystem(url)
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    dest = cache_root(cache_dir) / "remote" / f"{digest}-{re.sub(r'[^A-Za-z0-9_.-]', '_', url.rsplit('/', 1)[-1])[:40]}"
    try:
        if fs.isfile(path):
            base = path.rsplit("/", 1)[0]
            listing = {path: fs.info(path)}
        elif fs.isdir(path):
            base = path
            listing = fs.find(path, withdirs=False, detail=True)
        else:
            raise TargetNotFoundError(f"no remote directory or file {url}.", hint="Check the URL and its prefix.")
    except OSError as err:
        raise InputError(
            f"cannot list {url} ({type(err).__name__}: {err}).", hint="Check access to the bucket."
        ) from None
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path = dest / MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    kept: dict[str, str] = {}
    total = 0
    for full, info in sorted(listing.items()):
        rel = _safe_rel(full, base)
        if rel is None or not wanted(rel):
            continue
        if len(kept) >= MAX_FILES or total + int(info.get("size") or 0) > MAX_BYTES:
            raise InputError(
                f"{url} holds more than {MAX_FILES} log files or {MAX_BYTES >> 30} GiB of them.",
                hint="Sweep a narrower prefix.",
            )
        total += int(info.get("size") or 0)
        local = dest / rel
        signature = _signature(info)
        kept[rel] = signature
        if manifest.get(rel) == signature and local.is_file():
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        # Downloaded beside the mirror, in a hidden folder the walks skip, then moved in whole: a reader
        # never sees half a file under a log file's name.
        partial = dest / ".partial" / hashlib.sha256(rel.encode()).hexdigest()[:24]
        partial.parent.mkdir(exist_ok=True)
        try:
            fs.get_file(full, str(partial))
            os.replace(partial, local)
        except OSError as err:
            raise InputError(f"cannot copy {rel} from {url} ({err}).", hint="Check access to the bucket.") from None
    for rel in set(manifest) - set(kept):  # gone remotely: gone here too, so the mirror stays faithful
        stale = dest / rel
        if stale.is_file():
            stale.unlink()
    manifest_path.write_text(json.dumps(kept))
    return dest
