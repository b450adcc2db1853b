"""``train.mode: actor_critic``: advantage actor-critic on a Gymnasium environment, learning
from episodes instead of epochs over data (``nnctl.training.actor_critic``); evaluation plays
episodes, and the export is the policy."""

from __future__ import annotations

from nnctl.modes.base import ExportTarget, Mode


class ActorCritic(Mode):
    name = "actor_critic"
    advice = (
        "Lower optimizer.learning_rate, add gradient clipping (optimizer.clipnorm) or "
        "set agent.normalize_advantages"
    )

    def trainer(self, spec, base_dir, run):
        from nnctl.training.actor_critic import Agent

        return Agent(spec, run)

    def placeholder(self, spec, base_dir):
        """The network on the environment's observation."""
        from nnctl.rl.agent import build_agent

        return build_agent(spec)

    def evaluate(self, spec, model, run, split):
        """Evaluation episodes, not a data split."""
        from nnctl.rl.play import evaluation_report

        return evaluation_report(spec, model)

    def export_target(self, spec, model, fmt, samples):
        """The policy alone: observations in, action probabilities out."""
        from nnctl.rl.play import export_check, policy_model

        sample = export_check(spec, model, fmt, samples)
        return ExportTarget(policy_model(spec, model), sample, named=False)

    def predictor(self, run):
        from nnctl.data.task import Task
        from nnctl.rl.play import policy_predictor

        return policy_predictor(run), Task.POLICY
