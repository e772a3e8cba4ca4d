"""Guides served as ``traintriage://guide/<name>``: one markdown file per guide (``<name>.md``)."""
