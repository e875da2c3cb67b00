"""``polyopt optimize`` on a language-model trainer prints the trainer's own metrics, as text and as JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from polyopt import cli

ARGS = ["optimize", "-o", "grpo", "-p", "text-addition", "--budget-steps", "1", "--seed", "0", "-q"]
SMALL = "n_layer=1,d_model=32,n_head=2,prompts_per_step=2,completions_per_prompt=2,eval_prompts=8"


def test_text_output_shows_the_last_step_and_the_held_out_evaluation() -> None:
    out = CliRunner().invoke(cli.app, [*ARGS, "--set", SMALL], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "last_step/entropy:" in out.output and "eval/accuracy:" in out.output
    assert " at x = " not in out.output


def test_json_output_has_the_returns_names_and_metrics_and_no_x() -> None:
    out = CliRunner().invoke(cli.app, [*ARGS, "--set", SMALL, "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert "x" not in result and result["reward_names"] == ["reward"]
    assert {"last_step/reward", "eval/accuracy"} <= set(result["metrics"])
    assert len(result["f"]) == len(result["labels"]) == 1
