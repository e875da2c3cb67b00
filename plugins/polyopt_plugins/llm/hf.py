"""Any Hugging Face causal LM from a local path, behind the :class:`~polyopt_plugins.llm.policy.Policy`
interface (transformers is imported only here; ``pip install polyopt[llm]``).

Generation goes through the shared sampler; for Llama-style models each decoded token takes the lean step of
:mod:`~polyopt_plugins.llm.hf_lean` (static KV cache, layers called directly) and scoring and the update its
lean forward, which runs each group's shared prompt once; other architectures use the model's own forward and
``DynamicCache``. The reference model for a LoRA policy is the same model with its adapters switched off (no
copy). :func:`save_char_llama` writes a tiny Llama with a character tokenizer to a directory — for tests and
benchmarks, since no model hub is reachable.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from polyopt.errors import ConfigError
from polyopt_plugins.llm.hf_lean import (
    LeanCache,
    lean_completion_hidden,
    lean_decode,
    lean_hidden,
    lean_prefill,
    returned_cache,
    supports_lean,
)
from polyopt_plugins.llm.policy import Policy, positions
from polyopt_plugins.llm.tokenizer import DEFAULT_CHARS

__all__ = ["HFPolicy", "HFTokenizer", "save_char_llama"]


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise ConfigError(
            "a Hugging Face model needs transformers: pip install 'polyopt[llm]'"
        ) from exc
    return transformers


def _cache_keyword(model: Any) -> str:
    """The keyword a model's forward takes its KV cache under: ``cache`` (transformers >= 5.x, where
    ``past_key_values`` is deprecated and goes in 5.40) or ``past_key_values`` (earlier versions)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class HFTokenizer:
    """Adapts a Hugging Face tokenizer to the trainer's needs (left padding, ``bos`` first when it has one)."""

    def __init__(self, tok: Any) -> None:
        self.tok = tok
        self.eos_id = int(tok.eos_token_id)
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
        self.bos_id = tok.bos_token_id

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=True)

    def batch_encode(
        self, texts: list[str], device: torch.device | str = "cpu"
    ) -> tuple[Tensor, Tensor]:
        head = [self.bos_id] if self.bos_id is not None else []
        rows = [head + self.encode(t) for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, r in enumerate(rows):
            ids[i, width - len(r) :], mask[i, width - len(r) :] = torch.tensor(r), True
        return ids.to(device), mask.to(device)


@dataclass
class _Cache:
    past: Any
    mask: Tensor  # (n, P + max_new) bool, grown in place as tokens are generated
    next_pos: Tensor  # (n,)
    prompt_len: int


class HFPolicy(Policy):
    """A Hugging Face ``AutoModelForCausalLM`` and its tokenizer.

    Args:
        model: the causal LM (optionally a peft model).
        tokenizer: its Hugging Face tokenizer.
        lean: use the lean forward passes where the architecture allows (False: always the model's own
            forward).
    """

    def __init__(self, model: Any, tokenizer: Any, *, lean: bool = True) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = HFTokenizer(tokenizer)
        self.hidden_size = int(model.config.hidden_size)
        self.lora = hasattr(model, "disable_adapter")
        self.lean = lean and supports_lean(self._decoder())
        base = model.get_base_model() if self.lora else model
        self._cache_keyword = _cache_keyword(base)

    @classmethod
    def from_pretrained(cls, path: str, *, lora_rank: int = 0) -> HFPolicy:
        """Load a model and tokenizer from a local directory; with ``lora_rank``, wrap it in LoRA adapters."""
        tf = _transformers()
        if not Path(path).is_dir():
            raise ConfigError(
                f"model={path!r}; expected 'tiny' or a local directory with a Hugging Face model"
            )
        model = tf.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        tok = tf.AutoTokenizer.from_pretrained(path)
        if lora_rank:
            import peft

            config = peft.LoraConfig(
                r=lora_rank, lora_alpha=2 * lora_rank, target_modules="all-linear"
            )
            model = peft.get_peft_model(model, config)
        return cls(model, tok)

    def _decoder(self) -> Any:
        base = self.model.get_base_model() if self.lora else self.model
        return base.get_decoder()

    def hidden(self, ids: Tensor, mask: Tensor) -> Tensor:
        if self.lean:
            return lean_hidden(self._decoder(), ids, mask)
        out = self._decoder()(
            input_ids=ids, attention_mask=mask.long(), position_ids=positions(mask), use_cache=False
        )
        return out.last_hidden_state

    def completion_hidden(
        self, prompt: Tensor, prompt_mask: Tensor, completion: Tensor, completion_mask: Tensor
    ) -> Tensor:
        if self.lean:
            return lean_completion_hidden(
                self._decoder(), prompt, prompt_mask, completion, completion_mask
            )
        return super().completion_hidden(prompt, prompt_mask, completion, completion_mask)

    def head(self, hidden: Tensor) -> Tensor:
        return self.model.get_output_embeddings()(hidden)

    def prefill(
        self, ids: Tensor, mask: Tensor, max_new_tokens: int
    ) -> tuple[Tensor, _Cache | LeanCache]:
        if self.lean:
            return lean_prefill(self.model, ids, mask, max_new_tokens)
        n, p = ids.shape
        full = torch.cat([mask, mask.new_ones(n, max_new_tokens)], dim=1)
        out = self.model(
            input_ids=ids,
            attention_mask=mask.long(),
            position_ids=positions(mask),
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1], _Cache(returned_cache(out), full, mask.long().sum(-1), p)

    def decode(self, token: Tensor, cache: _Cache | LeanCache, t: int) -> Tensor:
        if isinstance(cache, LeanCache):
            return lean_decode(self._decoder(), self.model.get_output_embeddings(), token, cache, t)
        at = cache.prompt_len + t
        out = self.model(
            input_ids=token.unsqueeze(1),
            attention_mask=cache.mask[:, : at + 1].long(),
            position_ids=cache.next_pos.unsqueeze(1),
            use_cache=True,
            **{self._cache_keyword: cache.past},
        )
        cache.past, cache.next_pos = returned_cache(out), cache.next_pos + 1
        return out.logits[:, -1]

    @contextlib.contextmanager
    def adapters_disabled(self) -> Iterator[None]:
        """The base model (the reference policy of a LoRA run)."""
        if not self.lora:
            raise ConfigError("adapters_disabled() needs a LoRA policy (lora_rank > 0)")
        with self.model.disable_adapter():
            yield


def save_char_llama(
    path: str | Path,
    *,
    n_layer: int = 2,
    d_model: int = 128,
    n_head: int = 4,
    chars: str = DEFAULT_CHARS,
    seed: int = 0,
) -> Path:
    """Write a randomly initialized tiny ``LlamaForCausalLM`` with a character tokenizer to ``path``.

    Returns:
        The directory, loadable with ``HFPolicy.from_pretrained`` (and by TRL).
    """
    tf = _transformers()
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2, **{c: i + 3 for i, c in enumerate(chars)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    backend.decoder = decoders.Fuse()
    # no bos token: prompts are then tokenized the same way by polyopt and by TRL (which adds none)
    tok = tf.PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<pad>"
    )
    config = tf.LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=d_model,
        intermediate_size=4 * d_model,
        num_hidden_layers=n_layer,
        num_attention_heads=n_head,
        num_key_value_heads=n_head,
        max_position_embeddings=128,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = tf.LlamaForCausalLM(config)
    path = Path(path)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path
