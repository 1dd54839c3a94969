"""Showing plotly figures in the book's notebooks.

The book ships plotly.js once (``_static/plotly.min.js``); figures are emitted as HTML
fragments that only call it, so pages stay small and render with no network.
"""

from __future__ import annotations

import re

from IPython.display import HTML, display

from bonelib.text import significant

#: A number as the chapters write it (three significant digits, never in exponent form).
three_digits = significant


def show(figure, name: str) -> None:
    """Display a plotly figure as an HTML fragment with a stable element id, wherever in a cell.

    Parameters
    ----------
    figure : plotly.graph_objects.Figure
        The figure.
    name : str
        Unique id of the figure on its page (letters, digits, ``-``); a stable id keeps
        executed notebooks identical from run to run.
    """
    html = figure.to_html(include_plotlyjs=False, full_html=False, div_id=name, config={"responsive": True})
    display(HTML(html))


def table_html(header: list[str], rows: list[list[str]], name: str, caption: str = "") -> str:
    """A table of already formatted cells as HTML, with a stable element id.

    Parameters
    ----------
    header : list of str
        Column titles.
    rows : list of list of str
        Cells, one list per row; a cell may be a pair (text, hover text), the second shown when
        a pointer rests on it (e.g. a value's interval).
    name : str
        Id of the ``<table>`` element.
    caption : str
        Caption shown above the table.
    """
    from html import escape

    def text(value) -> str:
        # a value's interval "[low, high]" never breaks inside, in smaller type
        found = re.fullmatch(r"(.*\S) (\[[^\[\]]*\])", str(value), flags=re.DOTALL)
        if not found:
            return escape(str(value))
        style = "white-space:nowrap;font-size:85%"
        return f'{escape(found[1])} <span class="interval" style="{style}">{escape(found[2])}</span>'

    def cell(value, tag: str) -> str:
        if isinstance(value, tuple):  # (text, what a pointer over it shows)
            return f'<{tag} title="{escape(str(value[1]))}">{text(value[0])}</{tag}>'
        return f"<{tag}>{text(value)}</{tag}>"

    def cells(values: list, tag: str) -> str:
        return "".join(cell(v, tag) for v in values)

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    title = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (f'<table id="{name}" class="table">{title}<thead><tr>{cells(header, "th")}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def table(header: list[str], rows: list[list[str]], name: str, caption: str = "") -> None:
    """Display a table (:func:`table_html`) wherever in a cell, not only as its last expression."""
    display(HTML(table_html(header, rows, name, caption)))


def image_axes(figure, columns: int, ticks: bool = False) -> None:
    """Draw the heatmaps of a one-row subplot figure as images: rows downwards, square pixels.

    Parameters
    ----------
    figure : plotly.graph_objects.Figure
        A figure made by ``make_subplots(rows=1, cols=columns)`` (or a single plot, ``columns=1``).
    columns : int
        Number of subplot columns.
    ticks : bool
        Show the pixel indices on the axes.
    """
    # constrain="domain": the axes shrink to the image instead of padding it with empty bands
    for column in range(1, columns + 1):
        anchor = f"x{column if column > 1 else ''}"
        figure.update_yaxes(autorange="reversed", scaleanchor=anchor, constrain="domain", showticklabels=ticks,
                            showgrid=False, zeroline=False, row=1, col=column)
        figure.update_xaxes(constrain="domain", showticklabels=ticks, showgrid=False, zeroline=False, row=1,
                            col=column)
    figure.update_annotations(font_size=12)  # subplot titles that fit over their panels


#: The pipeline's steps in a reader's words (:mod:`bonebook.reproduce`).
STEP_WORDS = {"dataset": "labelling the dataset", "table": "the sample table", "train": "training",
              "ship": "keeping the networks", "predict": "their predictions", "coarse": "the coarse FE baseline",
              "external": "six new donors", "metrics": "the metrics", "interval": "the intervals",
              "domain": "the training inputs' ranges", "speed": "the timings", "real_bone": "the real-bone study",
              "density_reading": "the study of Eq. 1", "slice_fe": "the FE checks"}


def provenance_note(provenance: dict, steps: dict, current_code: dict[str, int]) -> HTML:
    """When, where, from which commit and how fast a results snapshot was made; in red if stale.

    Parameters
    ----------
    provenance : dict
        The snapshot's ``provenance.json`` (when and from which commit and code its dataset
        and networks were made).
    steps : dict
        The snapshot's ``steps.json``: every step of the pipeline as it last ran (studies that
        ran after the networks included).
    current_code : dict
        Versions of the code being built (:mod:`bonelib.versions`, same keys as ``provenance["code"]``):
        a difference means the snapshot was made by other code, and the note says so in red.
    """
    from html import escape

    machines = {}
    for name, step in steps.items():
        machine = step["machine"]
        where = machine["gpu"] or f"{machine['cpu']}, {machine['cores']} cores"
        machines.setdefault(where, []).append(f"{STEP_WORDS.get(name, name)} {step['seconds'] / 60:.1f} min")
    timing = "; ".join(f"on {escape(str(where))}: {', '.join(parts)}" for where, parts in machines.items())
    stale = [key for key, value in current_code.items() if provenance["code"].get(key) != value]
    latest = max((step["finished"] for step in steps.values() if step.get("finished")), default="–")
    note = (f"Results made {escape(provenance['made'])} from commit {escape(provenance['git_revision'][:10])}"
            f"{' (with uncommitted changes)' if provenance.get('uncommitted_bonelib_changes') else ''}; "
            f"the last step of the pipeline finished {escape(latest)}. Wall time of each step as it last ran, "
            f"{timing}; a network trained on another machine (a GPU) records its own, shown in the chapter on "
            "the CNN.")
    if stale:
        note += (f' <span style="color:#c00;font-weight:bold">These results were made by other code than the '
                 f"code of this book ({escape(', '.join(stale))} code changed since): run "
                 f"<code>make reproduce</code> to bring them up to date.</span>")
    return HTML(f'<p id="provenance">{note}</p>')


def scale_note(scale: str, shows: str = "") -> None:
    """Display, at the top of a page, which scale's results it shows and (``shows``) what the
    page itself shows (:func:`bonebook.findings.scale_sentence`)."""
    from html import escape

    from bonebook.findings import scale_sentence

    display(HTML(f'<p id="scale-note" class="scale-note"><em>{escape(scale_sentence(scale, shows))}</em></p>'))
