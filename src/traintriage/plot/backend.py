"""matplotlib, imported only when a plot is asked for, with the Agg backend (no display, thread-safe
when each plot has its own Figure, which is how ``render`` draws: never through pyplot's global state).

matplotlib is an optional extra: without it, a plot request is a clear error that says how to install
it, and everything else keeps working.
"""

from __future__ import annotations

from ..errors import InputError

INSTALL_HINT = (
    "install the plot extra into traintriage's environment: pip install -e '.[plot]' from the checkout "
    "(or pip install matplotlib)"
)


def figure_class():
    """matplotlib's Figure class (Agg canvas), or an InputError saying how to install matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError("plotting needs matplotlib, which is not installed.", hint=INSTALL_HINT) from None
    return Figure
