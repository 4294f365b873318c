"""`python -m GPT_SoVITS.finetune`: prepare the clips of a .list, then train SoVITS (s2) and GPT (s1).

Preparation skips the clips already prepared; a clip that cannot be used stops the command before
training with one line per clip saying why (or, with --skip-bad-clips, is left out). Training goes
through `GPT_SoVITS.training.trainer.Trainer` only (`loop.train`), and the same command run again
after an interruption (even kill -9) goes on from the last saved state.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

from GPT_SoVITS.training.prepared import PreparedDataset

from GPT_SoVITS.versions import VERSIONS

from . import trainers
from .errors import FinetuneError, check_weights
from .loop import Hooks, MetricsLog, ProgressBar, Schedule, iterate, train
from .options import FinetuneOptions, parse_options


def between_each(items: Iterable, between: Callable[[], None]) -> Iterator:
    """`items`, with `between()` called before each one after the first (where a caller may give the machine
    to others, or stop: each clip before it is already written, so a rerun reuses it)."""
    for index, item in enumerate(items):
        if index:
            between()
        yield item


def prepare(options: FinetuneOptions, between_clips: Callable[[], None] = lambda: None) -> PreparedDataset:
    from GPT_SoVITS.training.prepare import WeightsVersionError, load_prep_models, prepare_dataset, read_list

    entries, errors = read_list(options.list_path, options.wav_dir)

    def models():
        from GPT_SoVITS import runtime

        check_weights(options, [key for key in VERSIONS[options.version].weights if key != "gpt"])
        runtime.configure(options.device_target)
        try:
            return load_prep_models(options.version, str(options.pretrained_s2G), str(options.cnhubert_base_path),
                                    str(options.bert_path), str(options.sv_path) if options.sv_path else None)
        except WeightsVersionError as exc:
            raise FinetuneError(str(exc)) from exc

    report = prepare_dataset(entries, options.prepared, options.version, models,
                             lambda items: between_each(iterate(items, "prepare", len(entries)), between_clips))
    errors += report.errors
    if errors and not options.skip_bad_clips:
        lines = "\n".join(f"  {error}" for error in errors)
        raise FinetuneError(f"{len(errors)} 个片段无法使用 ({len(errors)} clips cannot be used; fix them or pass "
                            f"--skip-bad-clips):\n{lines}")
    for error in errors:
        print(f"skipped: {error}", file=sys.stderr)
    data = PreparedDataset(options.prepared)
    if len(data) == 0:
        raise FinetuneError("没有可用的片段 (no usable clips in the .list)")
    print(f"prepared {len(report.prepared)} clips, {len(report.reused)} already prepared, "
          f"{len(data)} in {options.prepared}", file=sys.stderr)
    return data


def run(options: FinetuneOptions, hooks: Hooks = Hooks()) -> list[Path]:
    """Prepare, then train s2 and s1; the files exported. `hooks` follow and control the run (loop.Hooks)."""
    hooks.stage("prepare")
    data = prepare(options, hooks.between_steps)
    if options.prepare_only:
        return []
    options.out.mkdir(parents=True, exist_ok=True)
    metrics = MetricsLog(options.metrics)
    exports: list[Path] = []
    plans = (("s2", "SoVITS", Schedule(options.sovits_epochs, options.batch_size, options.sovits_save_every_epoch,
                                       options.save_every_steps, options.if_save_latest,
                                       options.if_save_every_weights)),
             ("s1", "GPT", Schedule(options.gpt_epochs, options.gpt_batch_size, options.gpt_save_every_epoch,
                                    options.save_every_steps, options.if_save_latest, options.if_save_every_weights)))
    for model, label, schedule in plans:
        if schedule.epochs == 0:
            continue
        hooks.stage(model)
        trainer = trainers.FACTORIES[model](options, data)
        exports += train(trainer, data, schedule, options.out, options.name, metrics,
                         lambda total, done, label=label: ProgressBar(label, total, done), hooks)
    return exports


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        exports = run(options)
    except FinetuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in exports:
        print(path)
    return 0
