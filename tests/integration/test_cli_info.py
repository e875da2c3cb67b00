"""`polyopt info` says what applies to each kind: search optimizers, trainers and components."""

from __future__ import annotations

from typer.testing import CliRunner

from polyopt.cli import app


def _info(name: str) -> str:
    result = CliRunner().invoke(app, ["info", name], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_trainer_shows_what_it_trains_on_and_which_budgets_apply() -> None:
    out = _info("grpo")
    assert "trains a policy on: an Environment" in out and "TrainerResult" in out
    assert "budgets it can spend: steps, env_steps, seconds" in out and "dtype: float32" in out
    assert "spaces:" not in out and "constraints:" not in out  # search capabilities do not apply


def test_a_search_optimizer_shows_its_capabilities() -> None:
    out = _info("nsga2")
    assert "searches: an Objective" in out and "objectives: 2 or more; constraints: yes" in out
    assert "budgets it can spend: evaluations, steps, seconds" in out


def test_a_component_shows_its_kind_and_protocol() -> None:
    out = _info("ppo-clip")
    assert "ppo-clip (policy loss)" in out
    assert "protocol: polyopt.components.PolicyLoss (declared by plugin 'polyopt.llm')" in out
