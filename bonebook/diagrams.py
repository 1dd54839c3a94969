"""Diagrams of the method, drawn with plotly: the workflow (paper's Figure 3) and a CNN's layers (Figure 5)."""

from __future__ import annotations

import plotly.graph_objects as go

#: The two rows of the workflow: labelling by FE, then learning and testing.
WORKFLOW = (
    ("CT stack<br>(synthetic cohort<br>or your scans)", "VOI:<br>182 × 182 px<br>slices", "smoothing,<br>calibration<br>→ ρ_HA",
     "E, ν per pixel<br>(Eq. 1)", "periodic FE<br>homogenisation<br>→ E_eff label"),
    ("split by donor<br>(or at random)", "train the CNN<br>(MAE loss)", "keep the best<br>model by<br>validation loss",
     "predict the<br>test slices", "compare with FE:<br>R², slope, RPE"),
)


def _box(figure: go.Figure, x: float, y: float, text: str, colour: str, width: float = 0.8, height: float = 0.6) -> None:
    figure.add_shape(type="rect", x0=x - width / 2, x1=x + width / 2, y0=y - height / 2, y1=y + height / 2,
                     line=dict(color="#444"), fillcolor=colour, layer="below")
    if text:
        figure.add_annotation(x=x, y=y, text=text, showarrow=False, font=dict(size=11))


def _arrow(figure: go.Figure, start: tuple[float, float], end: tuple[float, float]) -> None:
    figure.add_annotation(x=end[0], y=end[1], ax=start[0], ay=start[1], xref="x", yref="y", axref="x", ayref="y",
                          text="", showarrow=True, arrowhead=3, arrowwidth=1.5)


def _blank(figure: go.Figure, height: int) -> go.Figure:
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, scaleanchor="x")
    figure.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white", showlegend=False)
    return figure


def workflow() -> go.Figure:
    """The workflow of labelling, training and testing (paper's Figure 3)."""
    figure = go.Figure()
    colours = ("#dbe9f6", "#fde8cf")
    for row, (steps, colour) in enumerate(zip(WORKFLOW, colours)):
        y = -row
        for column, text in enumerate(steps):
            _box(figure, column, y, text, colour)
            if column:
                _arrow(figure, (column - 0.6, y), (column - 0.4, y))
    last = len(WORKFLOW[0]) - 1
    _arrow(figure, (last, -0.3), (0, -0.7))
    figure.add_trace(go.Scatter(x=[-0.5, last + 0.5], y=[0.4, -1.4], mode="markers", marker=dict(opacity=0),
                                hoverinfo="skip"))
    return _blank(figure, 300)


#: Colour of each kind of layer in :func:`architecture`.
KINDS = {"Conv2D": "#4c78a8", "MaxPooling2D": "#f58518", "GlobalAveragePooling2D": "#f58518",
         "Flatten": "#bab0ac", "Dense": "#54a24b"}


def _describe(layer, following: list) -> str:
    kind = type(layer).__name__
    after = {type(f).__name__ for f in following}
    if kind == "Conv2D":
        k, s = layer.kernel_size[0], layer.strides[0]
        text = f"conv {k}×{k}" + (f" /{s}" if s > 1 else "")
        return text + (" +BN" if "BatchNormalization" in after else "")
    if kind == "MaxPooling2D":
        return "max pool" + (f" +drop {following[0].rate:.0%}" if following and type(following[0]).__name__ == "Dropout" else "")
    if kind == "GlobalAveragePooling2D":
        return "global mean"
    return kind.lower()


def architecture(model) -> go.Figure:
    """A Keras model's main layers as blocks: height ∝ spatial size, labels with the output shape (Figure 5).

    Parameters
    ----------
    model : keras.Model
        A model built by :mod:`bonelib.slices.network` (or any plain feed-forward Keras model).
    """
    layers = list(model.layers)
    shown = [(i, layer) for i, layer in enumerate(layers) if type(layer).__name__ in KINDS]
    input_side = model.input_shape[1]
    figure = go.Figure()
    for position, (index, layer) in enumerate(shown):
        shape = layer.output.shape
        if len(shape) == 4:
            height, size = max(shape[1] / input_side, 0.06) * 2.0, f"{shape[1]}×{shape[2]}×{shape[3]}"
        else:
            height, size = 0.12, f"{shape[-1]}"
        following = layers[index + 1: index + 3]
        _box(figure, position, 0, "", KINDS[type(layer).__name__], width=0.7, height=height)
        figure.add_annotation(x=position, y=1.15, text=_describe(layer, following), showarrow=False, textangle=-60,
                              yanchor="bottom", font=dict(size=10))
        figure.add_annotation(x=position, y=-1.15, text=size, showarrow=False, textangle=-60, yanchor="top",
                              font=dict(size=10))
    figure.add_trace(go.Scatter(x=[-0.5, len(shown) - 0.5], y=[-2.6, 2.6], mode="markers", marker=dict(opacity=0),
                                hoverinfo="skip"))
    _blank(figure, 400)
    figure.update_layout(title=dict(text=f"{model.name}: {model.count_params():,} parameters", x=0.02),
                         margin=dict(t=40))
    return figure
