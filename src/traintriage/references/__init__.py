"""Reference pages, one markdown file per finding code (``<code>.md``), plus guides."""
