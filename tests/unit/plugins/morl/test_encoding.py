"""Observation encodings of the MORL networks: one-hot codes of integer observations."""

from __future__ import annotations

import pytest
import torch

from polyopt.errors import ConfigError
from polyopt.spaces import Box, Integer
from polyopt_plugins.morl.encoding import EncodedQ, OneHotObservation, observation_encoder


def test_one_hot_gives_every_value_of_every_dimension_its_own_input() -> None:
    enc = observation_encoder("one_hot", Integer([0, 0], [6, 63]))  # Fruit Tree's (row, position)
    assert isinstance(enc, OneHotObservation) and enc.out_dim == 7 + 64
    obs = torch.tensor([[0.0, 0.0], [6.0, 63.0], [3.0, 31.0], [3.0, 32.0], [9.0, -2.0]])
    code = enc(obs)
    assert code.shape == (5, 71) and code.dtype == obs.dtype
    torch.testing.assert_close(code.sum(1), torch.full((5,), 2.0))  # one hot per dimension
    assert code[2, 7 + 31] == 1 and code[3, 7 + 32] == 1 and code[2, 7 + 32] == 0
    torch.testing.assert_close(
        code[4], enc(torch.tensor([[6.0, 0.0]]))[0]
    )  # clamped into the bounds
    shifted = observation_encoder("one_hot", Integer([-1], [1]))
    assert shifted is not None
    torch.testing.assert_close(
        shifted(torch.tensor([[-1.0], [1.0]])), torch.tensor([[1.0, 0, 0], [0, 0, 1]])
    )


def test_raw_is_no_encoder_and_bad_requests_are_refused() -> None:
    assert observation_encoder("raw", Box([0.0], [1.0])) is None
    with pytest.raises(ConfigError, match="expected one of"):
        observation_encoder("onehot", Integer(0, 3))
    with pytest.raises(ConfigError, match="needs an Integer observation space"):
        observation_encoder("one_hot", Box([0.0], [1.0]))
    with pytest.raises(ConfigError, match="at most"):
        observation_encoder("one_hot", Integer([0, 0], [10**5, 1]))


def test_encoded_q_passes_the_code_and_keeps_the_shape_attributes() -> None:
    class Net(torch.nn.Module):
        n_actions, m = 2, 3

        def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            return torch.cat([x, w], 1)

    q = EncodedQ(OneHotObservation([0], [2]), Net())
    assert (q.n_actions, q.m) == (2, 3)
    out = q(torch.tensor([[1.0]]), torch.tensor([[0.5, 0.25, 0.25]]))
    torch.testing.assert_close(out, torch.tensor([[0.0, 1.0, 0.0, 0.5, 0.25, 0.25]]))


def test_envelope_one_hot_option_trains_on_raw_observations() -> None:
    import polyopt
    from polyopt_envs.fruit_tree import FruitTree
    from polyopt_plugins.morl.envelope import Envelope

    small = {"hidden_sizes": [16], "learning_starts": 8, "batch_size": 8, "eval_weights": 6,
             "eval_episodes": 1, "ref_point": [-1.0] * 6}  # fmt: skip
    opt = Envelope(
        FruitTree(4, depth=5), seed=0, device="cpu", observation_encoding="one_hot", **small
    )
    assert isinstance(opt.q, EncodedQ) and opt.q.net.net[0].in_features == 6 + 32 + 6
    polyopt.run(opt, polyopt.Budget(env_steps=64))
    assert opt.n_updates > 0 and opt.buffer["obs"].shape[1] == 2  # replay keeps raw observations
    actions = opt.greedy(torch.tensor([[0.0, 0.0], [4.0, 15.0]]), torch.full((2, 6), 1 / 6))
    assert actions.shape == (2,) and bool(((actions == 0) | (actions == 1)).all())
    raw = Envelope(FruitTree(4, depth=5), seed=0, device="cpu", **small)
    assert not isinstance(raw.q, EncodedQ)  # the default: the network sees the observation itself
