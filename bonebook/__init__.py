"""bonebook: the executable book built on :mod:`bonelib`: its settings, pipeline and drawing.

- :mod:`bonebook.config`: the seed, the sizes of each scale, the evaluation, artefact names;
- :mod:`bonebook.reproduce`: the 2D route's pipeline (dataset, training, baselines, metrics,
  speed, the real-bone study), every step resumable, into ``results/<scale>/``;
  :mod:`bonebook.train_step` its training step, :mod:`bonebook.pipeline` the log, machine and
  deadline every step shares;
- :mod:`bonebook.reproduce_3d`: the 3D route's pipeline (cube dataset, leave-specimens-out
  evaluation, the 3D FE study);
- :mod:`bonebook.studies`: the studies of real bone the chapters on real bone and on 3D show;
- :mod:`bonebook.execute`: the chapters executed with papermill; they only read result files;
- :mod:`bonebook.viz`, :mod:`bonebook.diagrams`: figures and tables in the chapters.

Run the steps as ``python -m bonebook.reproduce --scale ci|paper`` (``make reproduce``). It
ships in the same distribution as ``bonelib`` and needs its ``all`` extra (pandas, plotly,
IPython, papermill, TensorFlow): ``pip install -e '.[all]'``, as ``make`` does.
"""
