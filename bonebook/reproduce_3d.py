"""The 3D route's expensive steps: the cube dataset, then the leave-specimens-out evaluation.

``python -m bonebook.reproduce_3d --scale paper`` labels the 115 shell-free real ROIs of the
collection (fetched once: ``--cache``) and the realistic cohort's vertebrae into cubes
(``artefacts/<scale>/cubes3d``, about 45 min on 2 cores; with ``CUBES_3D["between"]`` and
``CUBES_3D["beside"]`` also the cubes between and beside the tiles), then trains the 3D network
(on the kinds of cube ``CUBES_3D["learn"]`` names, of the training specimens) and fits the laws
once per fold of real specimens and writes the
results the "Beyond 2D" chapter reads (``results/<scale>/cubes3d``; the fold networks, the
shipped 3D ensemble, go to ``bonelib/data/models3d`` at paper scale). Both steps resume
where they stopped. The ``interval`` step calibrates the ensemble's conformal interval on the
held-out cubes (:func:`interval`), the ``domain`` step records what its training cubes look like
(:func:`domain`). The ``study`` step then computes what the chapter shows beside them
(:func:`bonebook.studies.cube_fe`: the solver's verification, real-cube moduli, marrow,
stress, the laws' transfer, the cost), and the ``own_scan`` step runs a shipped ROI through the
``bonelib`` command line, both routes and the FE (:func:`bonebook.studies.own_scan`; it needs
both shipped ensembles), and the ``solver_scaling`` step times the 3D solvers on growing cubes
of real bone at 51 µm (:func:`bonebook.studies.solver_scaling`, about 15 min). As in :mod:`bonebook.reproduce`, a step is skipped when
its key (:func:`_key`) is the one recorded in ``results/<scale>/cubes3d/steps.json``, and
``provenance.json`` there records the revision, versions, machine and wall time of each.
``--table`` prints the held-out metrics.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from bonebook import config, pipeline, studies
from bonelib import versions
from bonelib._files import write_json

#: The steps, in order.
STEPS = ("build", "evaluate", "interval", "domain", "study", "own_scan", "solver_scaling")
#: The version of each step's own code, bumped by hand when what it writes changes.
STEP_VERSIONS = {"build": 1, "evaluate": 2, "interval": 2, "domain": 1, "study": studies.STUDY_VERSIONS["cube_fe"],
                 "own_scan": studies.STUDY_VERSIONS["own_scan"],
                 "solver_scaling": studies.STUDY_VERSIONS["solver_scaling"]}


def results(scale: str) -> Path:
    """``results/<scale>/cubes3d``: what the chapter reads."""
    return config.artefacts(scale).snapshot / "cubes3d"


def models(scale: str) -> Path:
    """Where the scale's 3D ensemble goes: in the package at paper scale, beside the results otherwise."""
    return config.artefacts(scale).models_3d


def build(scale: str, workers: int, cache: str | None, scheduler: str | None = None) -> Path:
    """Label the scale's volumes into cubes (the tiles, and the kinds of cube the settings ask
    for); copy their tables to the results. Cubes that a committed table of this label version
    already holds are regenerated from their volume's seed instead of solved again."""
    from bonelib.cubes import dataset as cube_dataset
    settings = config.CUBES_3D[scale]
    selection = cube_dataset.volumes(real=settings["real"], synthetic=settings["synthetic"], seed=config.SEED,
                                     subset=settings["subset"], cache=cache)
    table = cube_dataset.build(config.artefacts(scale).root / "cubes3d", selection, workers=workers,
                               kinds=kinds(scale), scheduler=scheduler, labelled=labelled(scale))
    results(scale).mkdir(parents=True, exist_ok=True)
    for kind in kinds(scale):
        shutil.copyfile(table.parent / cube_dataset.STORED[kind][1], results(scale) / cube_dataset.STORED[kind][1])
    return table


def kinds(scale: str) -> tuple[str, ...]:
    """The kinds of cube a scale's dataset holds (:data:`bonelib.cubes.placement.KINDS`): the tiles,
    and the cubes between them and beside them where the settings ask for them."""
    settings = config.CUBES_3D[scale]
    return ("tiles", *(kind for kind in ("between", "beside") if settings[kind]))


def labelled(scale: str) -> dict[str, list[dict]]:
    """The labelled cubes of the scale's results (kind → rows), where a label version that is this
    code's made them (``provenance.json``): what the build need not solve again."""
    import json

    from bonelib.cubes import dataset as cube_dataset
    provenance = results(scale) / "provenance.json"
    if not provenance.exists() or json.loads(provenance.read_text())["code"].get("cube_labels") != versions.CUBE_LABELS:
        return {}
    tables = {kind: results(scale) / cube_dataset.STORED[kind][1] for kind in kinds(scale)}
    return {kind: cube_dataset.typed_rows(path) for kind, path in tables.items() if path.exists()}


def evaluate(scale: str) -> Path:
    """Leave-specimens-out: laws and 3D network per fold, pooled metrics on the held-out real cubes."""
    from bonelib.cubes import dataset as cube_dataset
    from bonelib.cubes import evaluate as cube_evaluation
    settings = config.CUBES_3D[scale]
    folder = config.artefacts(scale).root / "cubes3d"
    grey, rows = cube_dataset.load(folder)
    extra = {kind: cube_dataset.load(folder, kind) for kind in learnt_from(scale) if kind != "tiles"}
    return cube_evaluation.leave_specimens_out(results(scale), grey, rows, n_folds=settings["folds"],
                                               val_specimens=settings["val_specimens"],
                                               epochs=settings["epochs"], seed=config.SEED,
                                               sources=settings["sources"], base=settings["base"],
                                               models=models(scale), axes=settings["axes"], extra=extra,
                                               widths=settings["widths"])


def interval(scale: str) -> Path:
    """The 3D ensemble's conformal interval (``interval.json`` beside it), calibrated on the
    held-out cubes of every fold, and its coverage on folds held out of the calibration
    (``results/<scale>/cubes3d/interval.json``)."""
    from bonelib.cubes import evaluate as cube_evaluation
    from bonelib.cubes.dataset import typed_rows
    from bonelib.learn import conformal

    predictions, _ = cube_evaluation.read_predictions(results(scale))
    cubes = cube_evaluation.held_out(predictions, typed_rows(results(scale) / "cubes.csv"), "cnn3d")
    predicted, observed, folds = cubes["E_pred"], cubes["E_z"], cubes["fold"]
    conformal.calibrate(predicted, observed).write(models(scale))
    write_json(results(scale) / "interval.json", {"folds": conformal.cross_coverage(predicted, observed, folds)})
    return results(scale) / "interval.json"


def learnt_from(scale: str) -> tuple[str, ...]:
    """The kinds of cube the scale's networks learn from (``CUBES_3D["learn"]``), each one the
    scale's dataset holds (:func:`kinds`)."""
    learn = tuple(config.CUBES_3D[scale]["learn"])
    if "tiles" not in learn or not set(learn) <= set(kinds(scale)):
        raise ValueError(f"the networks learn from the tiles and kinds of cube the dataset holds ({kinds(scale)}), "
                         f"not {learn}")
    return learn


def domain(scale: str, cache: str | None) -> Path:
    """``domain.json`` beside the 3D ensemble (:mod:`bonelib.learn.domain`): the ranges of BV/TV,
    fabric along z and the density histogram's quantiles over the cubes its networks learnt from
    (every labelled cube of the kinds and sources they learn from),
    for :meth:`bonelib.cubes.pretrained.CubeEnsemble.check`. The grey cubes are regenerated from
    each volume's seed (:func:`bonelib.cubes.dataset.regenerated`) and must give the dataset's mean density."""
    from tqdm import tqdm

    from bonelib.cubes import dataset as cube_dataset
    from bonelib.cubes.evaluate import usable
    from bonelib.imaging.density import to_vbmd
    from bonelib.learn import domain as training_domain

    settings = config.CUBES_3D[scale]
    tables = {kind: studies.read_table(results(scale) / cube_dataset.STORED[kind][1]) for kind in kinds(scale)}
    chosen = {kind: table[usable(table.to_dict("records")) & table.source.isin(settings["sources"])]
              for kind, table in tables.items() if kind in learnt_from(scale)}
    names = sorted(set().union(*(set(table.volume) for table in chosen.values())))
    volumes = {v.name: v for v in cube_dataset.volumes(real=settings["real"], synthetic=settings["synthetic"],
                                                        seed=config.SEED, subset=settings["subset"], cache=cache)}
    measures = []
    for name in tqdm(names, desc="training cubes regenerated", unit="volume"):
        scan = cube_dataset.scanned(volumes[name])
        for kind, table in chosen.items():
            rows = table[table.volume == name].to_dict("records")
            if rows:
                grey, calibration = cube_dataset.regenerated(volumes[name], rows, kind=kind, scan=scan)
                measures += [{"bv_tv_grey": row["bv_tv_grey"], "m_z": row["m_z"]}
                             | training_domain.density_quantiles(to_vbmd(cube, calibration))
                             for cube, row in zip(grey, rows)]
    return training_domain.write(models(scale), training_domain.ranges(measures))


def table(scale: str) -> str:
    """The held-out metrics as a Markdown table."""
    from bonelib.cubes import evaluate as cube_evaluation
    _, metrics = cube_evaluation.read_predictions(results(scale))
    names = {"power_law": "BV/TV power law", "fabric_law": "Zysset–Curnier fabric law", "cnn3d": "3D CNN"}
    lines = ["| model | R² | slope | RPE50 | RPE95 |", "|---|---|---|---|---|"]
    for key, name in names.items():
        m = metrics[key]
        lines.append(f"| {name} | {m['r2']['value']:.3f} | {m['slope']['value']:.3f} | {m['rpe50']['value']:.3f} "
                     f"| {m['rpe95']['value']:.3f} |")
    return "\n".join(lines)


def _key(scale: str, step: str) -> str:
    """Hash of what a step's outputs depend on (:func:`bonebook.pipeline.step_key`): the build's
    settings and the label version (and its own folder's record, so that a machine without the
    labelled cubes builds them); the evaluation's settings, both versions and the cube tables;
    the study's identity (:func:`bonebook.studies.identity`, digests of its inputs included)."""
    chosen = config.CUBES_3D[scale]
    from bonelib.cubes import dataset as cube_dataset

    code = {"cube_labels": versions.CUBE_LABELS, "cube_network": versions.CUBE_NETWORK}
    learnt = [results(scale) / cube_dataset.STORED[kind][1] for kind in learnt_from(scale)]
    if step == "build":
        return pipeline.step_key(STEP_VERSIONS[step], {"cube_labels": versions.CUBE_LABELS},
                                 (config.SEED, chosen["real"], chosen["subset"], chosen["synthetic"], chosen["between"],
                                  chosen["beside"]),
                                 [config.artefacts(scale).root / "cubes3d" / "parameters.json"])
    if step == "interval":
        return pipeline.step_key(STEP_VERSIONS[step], code, (), [results(scale) / "predictions.csv"])
    if step == "domain":
        settings = (config.SEED, chosen["real"], chosen["subset"], chosen["synthetic"], tuple(chosen["sources"]))
        return pipeline.step_key(STEP_VERSIONS[step], code, settings + (learnt_from(scale),), learnt)
    if step == "evaluate":
        settings = (config.SEED, chosen["folds"], chosen["val_specimens"], chosen["epochs"], tuple(chosen["sources"]),
                    chosen["base"], tuple(chosen["axes"]), learnt_from(scale), tuple(chosen["widths"]))
        return pipeline.step_key(STEP_VERSIONS[step], code | {"cube_training": versions.CUBE_TRAINING}, settings,
                                 learnt)
    if step == "own_scan":  # both routes' shipped networks on one scan: the study's identity says which
        study = studies.identity("own_scan", scale, config.OWN_SCAN[scale])
        return pipeline.step_key(STEP_VERSIONS[step], code, repr(sorted(study.items())), [])
    if step == "solver_scaling":
        study = studies.identity("solver_scaling", scale, config.SOLVER_SCALING[scale])
        return pipeline.step_key(STEP_VERSIONS[step], code, repr(sorted(study.items())), [])
    study = studies.identity("cube_fe", scale, {"rois": config.REAL_BONE[scale]["rois"], "side": studies.CUBE_SIDE})
    return pipeline.step_key(STEP_VERSIONS[step], code, repr(sorted(study.items())), [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=config.SCALES, default="ci", help="size of the run (default ci)")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS),
                        help="steps to run (default all; each is skipped when up to date, and resumes)")
    parser.add_argument("--force", action="store_true", help="run the steps even if up to date")
    parser.add_argument("--workers", type=int, default=2, help="processes labelling volumes (default 2)")
    parser.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786) whose workers label the "
                                            "volumes (they must see this folder); default: --workers local processes")
    parser.add_argument("--cache", help="folder of the collection's ROIs that do not ship (fetched there once; "
                                            "default: the user cache)")
    parser.add_argument("--table", action="store_true", help="print the held-out metrics (Markdown) and stop")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.scale))
        return 0
    actions = {"build": lambda: build(args.scale, args.workers, args.cache, args.scheduler),
               "evaluate": lambda: evaluate(args.scale),
               "interval": lambda: interval(args.scale),
               "domain": lambda: domain(args.scale, args.cache),
               "study": lambda: studies.cube_fe(args.scale, force=True),
               "own_scan": lambda: studies.own_scan(args.scale, force=True),
               "solver_scaling": lambda: studies.solver_scaling(args.scale, force=True)}
    ran = [pipeline.run_step(step, results(args.scale) / "steps.json", actions[step],
                             lambda: _key(args.scale, step), args.force)
           for step in STEPS if step in args.steps]
    if any(ran):
        pipeline.write_provenance(results(args.scale), args.scale, {"cube_labels": versions.CUBE_LABELS,
                                                                      "cube_network": versions.CUBE_NETWORK,
                                                                      "cube_training": versions.CUBE_TRAINING})
    print(table(args.scale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
