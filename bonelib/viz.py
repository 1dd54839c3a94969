"""Showing plotly figures in the book's notebooks.

The book ships plotly.js once (``_static/plotly.min.js``); figures are emitted as HTML
fragments that only call it, so pages stay small and render with no network.
"""

from __future__ import annotations

from IPython.display import HTML


def show(figure, name: str) -> HTML:
    """Display a plotly figure as an HTML fragment with a stable element id.

    Parameters
    ----------
    figure : plotly.graph_objects.Figure
        The figure.
    name : str
        Unique id of the figure on its page (letters, digits, ``-``); a stable id keeps
        executed notebooks identical from run to run.
    """
    html = figure.to_html(include_plotlyjs=False, full_html=False, div_id=name, config={"responsive": True})
    return HTML(html)
