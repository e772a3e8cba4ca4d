"""Guides (``guides/*.md``): the workflows the prompts and skills point to. Reference pages live beside their
rules, in ``traintriage/rules/<code>/reference.md``."""
