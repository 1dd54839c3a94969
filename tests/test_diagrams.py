"""The method's diagrams are drawn from what they show: the workflow's steps, a model's layers."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")

from bonebook import diagrams  # noqa: E402
from bonelib.slices import network as cnn  # noqa: E402


def boxes(figure):
    return [shape for shape in figure.layout.shapes if shape.type == "rect"]


def test_workflow_has_a_box_per_step_and_arrows_between_them():
    figure = diagrams.workflow()
    steps = sum(len(row) for row in diagrams.WORKFLOW)
    assert len(boxes(figure)) == steps
    assert sum(1 for a in figure.layout.annotations if a.showarrow) == steps - 1


def test_architecture_draws_each_main_layer_with_its_output_shape():
    model = cnn.paper_model()
    figure = diagrams.architecture(model)
    assert len(boxes(figure)) == 8 + 4 + 1 + 4  # convolutions, poolings, flatten, dense layers
    texts = [a.text for a in figure.layout.annotations]
    assert "182×182×16" in texts and "11×11×128" in texts and texts.count("conv 3×3 +BN") == 8
    assert texts.count("max pool +drop 20%") == 4
    assert f"{model.count_params():,}" in figure.layout.title.text
    improved = diagrams.architecture(cnn.improved_model())
    assert [a.text for a in improved.layout.annotations][0] == "conv 5×5 /2 +BN"
