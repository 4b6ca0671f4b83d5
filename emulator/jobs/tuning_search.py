"""The search strategies of a tuning job: which hyperparameters the next trial gets.

- Random: optuna's ``RandomSampler`` (each value drawn independently within its range and scale).
- Bayesian: optuna's ``TPESampler``, a model-based search (tree-structured Parzen estimators) that
  starts with a few random trials and then proposes where its model of the objective expects
  improvement; ``constant_liar`` keeps parallel proposals apart. SageMaker's own Bayesian optimizer
  (a Gaussian process) is internal to it: the values differ, the behaviour (exploit near the best,
  explore elsewhere) is the same kind.
- Grid: every combination of the categorical and integer ranges, in order, once.
- Hyperband: the Bayesian sampler, with optuna's ``HyperbandPruner`` deciding from each trial's objective
  after every epoch (successive halving in brackets, reduction factor 3, between MinResource and
  MaxResource epochs) which trials stop early; the runner stops a trial at MaxResource epochs.

Both samplers are seeded from RandomSeed (or a seed chosen at creation and kept in the record), and
the study is rebuilt after a restart from the trials the record lists, so a run is reproducible.
Scales: Linear (and Auto) sample uniformly, Logarithmic log-uniformly, ReverseLogarithmic samples
``1 - x`` log-uniformly (dense near 1). A trial with several definitions first picks the definition
(a categorical choice), then that definition's ranges.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState, create_trial

from emulator.domain.tuning_space import CATEGORICAL, INTEGER, Range, grid

optuna.logging.set_verbosity(optuna.logging.WARNING)
log = logging.getLogger(__name__)
_DEFINITION = "__definition__"
_REVERSE = "#reverse-log"


def startup_trials(max_jobs: int) -> int:
    """Random trials before the Bayesian model proposes: a fifth of the budget, between 2 and 10."""
    return max(2, min(10, max_jobs // 5))


@dataclass(frozen=True)
class Space:
    """One definition's ranges, by definition name ("" for a single TrainingJobDefinition)."""

    name: str
    ranges: tuple[Range, ...]


def _key(space: Space, r: Range, several: bool) -> str:
    base = f"{space.name}:{r.name}" if several else r.name
    return base + _REVERSE if r.scaling == "ReverseLogarithmic" else base


def _distribution(r: Range) -> BaseDistribution:
    if r.kind == CATEGORICAL:
        return CategoricalDistribution(list(r.values))
    if r.kind == INTEGER:
        return IntDistribution(int(r.low), int(r.high), log=r.scaling == "Logarithmic")
    if r.scaling == "ReverseLogarithmic":
        return FloatDistribution(1.0 - r.high, 1.0 - r.low, log=True)
    return FloatDistribution(r.low, r.high, log=r.scaling == "Logarithmic")


def _to_text(r: Range, internal: Any) -> str:
    if r.kind == CATEGORICAL:
        return str(internal)
    if r.kind == INTEGER:
        return str(int(internal))
    value = 1.0 - float(internal) if r.scaling == "ReverseLogarithmic" else float(internal)
    return repr(min(max(value, r.low), r.high))


def _to_internal(r: Range, text: str) -> Any:
    if r.kind == CATEGORICAL:
        return text
    if r.kind == INTEGER:
        return int(float(text))
    value = float(text)
    return 1.0 - value if r.scaling == "ReverseLogarithmic" else value


class Search:
    """Proposes trials and learns from their objectives (ask/tell), for one tuning job."""

    def __init__(self, strategy: str, spaces: list[Space], maximize: bool, seed: int, max_jobs: int,
                 resources: tuple[int, int] | None = None) -> None:
        self.strategy = strategy
        self.spaces = {s.name: s for s in spaces}
        self.several = len(spaces) > 1
        self.grid = [(s.name, combo) for s in spaces for combo in grid(list(s.ranges))] if strategy == "Grid" else []
        sampler: optuna.samplers.BaseSampler
        pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if strategy in ("Bayesian", "Hyperband"):
                sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(max_jobs),
                                                     constant_liar=True)
            else:
                sampler = optuna.samplers.RandomSampler(seed=seed)
        if strategy == "Hyperband":
            assert resources is not None
            pruner = optuna.pruners.HyperbandPruner(min_resource=resources[0], max_resource=resources[1])
        # the name seeds Hyperband's assignment of trials to brackets: fixed, so a run is reproducible
        self.study = optuna.create_study(direction="maximize" if maximize else "minimize", sampler=sampler,
                                         pruner=pruner, study_name=f"smlocal-{seed}")
        self.running: dict[str, optuna.Trial] = {}   # trial name -> its optuna trial
        self.reported: dict[str, int] = {}           # epochs reported to the pruner, per running trial
        self.pruned: set[str] = set()

    # --- proposals ---------------------------------------------------------------------------------
    def propose(self, index: int, name: str) -> tuple[str, dict[str, str]]:
        """(definition name, tuned hyperparameters) of trial ``index`` (0-based), to be called ``name``."""
        if self.strategy == "Grid":
            return self.grid[index]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            trial = self.study.ask()
            space, tuned = self._suggest(trial)
        self.running[name] = trial
        return space.name, tuned

    def _suggest(self, trial: optuna.Trial) -> tuple[Space, dict[str, str]]:
        if self.several:
            space = self.spaces[str(trial.suggest_categorical(_DEFINITION, list(self.spaces)))]
        else:
            space = next(iter(self.spaces.values()))
        tuned = {}
        for r in space.ranges:
            key = _key(space, r, self.several)
            dist = _distribution(r)
            if isinstance(dist, CategoricalDistribution):
                internal: Any = trial.suggest_categorical(key, dist.choices)
            elif isinstance(dist, IntDistribution):
                internal = trial.suggest_int(key, dist.low, dist.high, log=dist.log)
            else:
                assert isinstance(dist, FloatDistribution)
                internal = trial.suggest_float(key, dist.low, dist.high, log=dist.log)
            tuned[r.name] = _to_text(r, internal)
        return space, tuned

    # --- results -------------------------------------------------------------------------------------
    def report(self, name: str, values: list[float]) -> bool:
        """Hyperband: a running trial's objective after each epoch so far (epoch k = its k-th value); True
        when Hyperband's successive halving stops it at this rung. Never before MinResource epochs."""
        trial = self.running.get(name)
        if trial is None or self.strategy != "Hyperband":
            return False
        done = self.reported.get(name, 0)
        for step, value in enumerate(values[done:], start=done + 1):
            trial.report(value, step)
        self.reported[name] = len(values)
        if len(values) > done and trial.should_prune():
            self.pruned.add(name)
            return True
        return False

    def finished(self, name: str, value: float | None) -> None:
        """A trial ended: with its final objective, or without one (failed, or never reported it)."""
        trial = self.running.pop(name, None)
        self.reported.pop(name, None)
        if trial is None or self.strategy == "Grid":
            return
        if value is None:
            self.study.tell(trial.number, state=TrialState.FAIL)
        elif name in self.pruned:
            self.study.tell(trial.number, state=TrialState.PRUNED)
        else:
            self.study.tell(trial.number, value)

    def _params(self, definition: str, tuned: dict[str, str]) -> tuple[dict[str, Any], dict[str, BaseDistribution]]:
        space = self.spaces[definition]
        params: dict[str, Any] = {}
        dists: dict[str, BaseDistribution] = {}
        if self.several:
            params[_DEFINITION] = definition
            dists[_DEFINITION] = CategoricalDistribution(list(self.spaces))
        for r in space.ranges:
            if r.name in tuned:
                key = _key(space, r, self.several)
                params[key], dists[key] = _to_internal(r, tuned[r.name]), _distribution(r)
        return params, dists

    def known(self, definition: str, tuned: dict[str, str], value: float | None) -> bool:
        """A trial that ended before this search existed (an earlier run of this job, or a warm start
        parent's): the model learns from it. False when it does not fit the current ranges."""
        if self.strategy == "Grid" or value is None or definition not in self.spaces:
            return False
        try:
            params, dists = self._params(definition, tuned)
            self.study.add_trial(create_trial(params=params, distributions=dists, value=value))
        except (ValueError, TypeError) as exc:
            log.debug("trial %s left out of the search: %s", tuned, exc)
            return False
        return True

    def resume(self, name: str, definition: str, tuned: dict[str, str]) -> None:
        """A trial still running from before a restart: proposed again with its own values."""
        if self.strategy == "Grid" or definition not in self.spaces:
            return
        params, _ = self._params(definition, tuned)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.study.enqueue_trial(params, skip_if_exists=False)
            trial = self.study.ask()
            self._suggest(trial)
        self.running[name] = trial
