"""Thresholds of ``architecture_imbalance`` (stated in ``reference.md``, checked by
``tests/test_rule_thresholds.py``).

Used by :mod:`traintriage.checkpoints.imbalance`. For scale: GPT-2 small is 31.7 % embeddings (tied head),
BERT-base 21.8 %, Llama-2-7B 3.9 % (untied head): none is flagged.
"""

EMBEDDING_SHARE_THRESHOLD = 0.5
"""Embeddings (+ an untied output head) above half of all parameters: the body that does the work is small."""

BLOCK_RATIO_THRESHOLD = 2.0
"""One numbered block above 2x the median of its siblings: repeated blocks are normally the same size."""

MIN_SIBLINGS = 3
"""... among at least this many siblings (with two there is no median to stand out from)."""

SINGLE_TENSOR_SHARE = 0.5
"""One non-embedding tensor above half of all parameters ..."""

MIN_TENSORS = 4
"""... in a model of at least this many tensors ..."""

MIN_PARAMS_FOR_DOMINANT = 1_000_000
"""... and at least 1M parameters: big enough for it to matter (tiny MLPs are top-heavy)."""

NORM_RATIO = 100.0
"""From the value scan (:mod:`traintriage.checkpoints.health`): a weight tensor whose RMS is this many times above
(or below) the median of its siblings (the same name in the other numbered blocks): two orders of magnitude,
far past the spread of repeated layers of one scale."""

NORM_MIN_SIBLINGS = 3
"""... among at least this many siblings (with two there is no median to stand out from)."""
