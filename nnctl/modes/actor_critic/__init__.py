"""``train.mode: actor_critic``: advantage actor-critic on a Gymnasium environment, learning
from episodes instead of epochs over data; evaluation plays episodes, and the export is the
policy.

The mode's home: ``trainer`` (the agent's episode loop, the trainer of a run), ``env`` (makes
and seeds the environment), ``returns`` (rewards into learning targets), ``agent`` (builds and
checks the two-headed network), ``play`` (the policy in evaluation, export and predict). Its spec
rules are in the spec layer, below: ``nnctl/spec/actor_critic.py``.
"""

from __future__ import annotations

from nnctl.modes.base import ExportTarget, Mode


class ActorCritic(Mode):
    name = "actor_critic"
    advice = (
        "Lower optimizer.learning_rate, add gradient clipping (optimizer.clipnorm) or "
        "set agent.normalize_advantages"
    )

    def trainer(self, spec, base_dir, run):
        from nnctl.modes.actor_critic.trainer import Agent

        return Agent(spec, run)

    def placeholder(self, spec, base_dir):
        """The network on the environment's observation."""
        from nnctl.modes.actor_critic.agent import build_agent

        return build_agent(spec)

    def evaluate(self, spec, model, run, split):
        """Evaluation episodes, not a data split."""
        from nnctl.modes.actor_critic.play import evaluation_report

        return evaluation_report(spec, model)

    def report_sections(self, spec, model, run, evaluation):
        """Episode curves: each episode's return, the running reward and the losses."""
        from nnctl.training.sections import curves_section

        random = evaluation.baselines.get("random_policy_return", float("nan"))
        caption = (
            f"Return and running reward per training episode, and the losses. The trained policy "
            f"returns {evaluation.metrics.get('mean_return', float('nan')):.1f} on average over "
            f"{evaluation.samples} evaluation episodes; a random policy {random:.1f}."
        )
        return curves_section(run, "Episode curves", caption)

    def export_target(self, spec, model, fmt, samples):
        """The policy alone: observations in, action probabilities out."""
        from nnctl.modes.actor_critic.play import export_check, policy_model

        sample = export_check(spec, model, fmt, samples)
        return ExportTarget(policy_model(spec, model), sample, named=False)

    def predictor(self, run):
        from nnctl.modes.actor_critic.play import policy_predictor
        from nnctl.task import Task

        return policy_predictor(run), Task.POLICY
