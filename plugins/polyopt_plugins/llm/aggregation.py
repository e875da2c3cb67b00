"""Loss aggregation: per-token losses ``n x T`` to a scalar, normalized by totals of the WHOLE batch.

Every mode is a sum over tokens divided by a constant computed once on the full batch (:func:`batch_totals`),
so splitting the batch into micro-batches and summing their losses gives exactly the full-batch loss and
gradient — the gradient never depends on the split.

- ``token-mean``: ``sum(loss) / total tokens`` (DAPO; every token weighs the same).
- ``seq-mean-token-mean``: ``mean_i(sum_t loss_it / |y_i|)`` (original GRPO; every sequence weighs the same).
- ``seq-mean-token-sum-norm``: ``sum(loss) / (n_seq * max_len)`` with a constant ``max_len`` (Dr. GRPO; no
  length bias).
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["MODES", "batch_totals", "aggregate"]

MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm")


def batch_totals(mask: Tensor) -> dict[str, Tensor]:
    """Normalizers of the full batch: ``tokens`` (real tokens), ``seqs`` (rows)."""
    return {"tokens": mask.sum().clamp_min(1.0), "seqs": mask.new_tensor(float(mask.shape[0]))}


def aggregate(
    loss: Tensor, mask: Tensor, mode: str, totals: dict[str, Tensor], max_len: int
) -> Tensor:
    """Reduce ``loss`` (``b x T``, a micro-batch or the full batch) to its share of the full-batch loss.

    Args:
        loss: ``b x T`` per-token losses, zero on padding.
        mask: ``b x T`` float, 1 on real tokens.
        mode: one of :data:`MODES`.
        totals: :func:`batch_totals` of the full batch.
        max_len: the generation length limit (the constant of ``seq-mean-token-sum-norm``).

    Returns:
        A scalar; summing it over micro-batches gives the full-batch value.
    """
    if mode == "token-mean":
        return (loss * mask).sum() / totals["tokens"]
    if mode == "seq-mean-token-mean":
        per_seq = (loss * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)
        return per_seq.sum() / totals["seqs"]
    if mode == "seq-mean-token-sum-norm":
        return (loss * mask).sum() / (totals["seqs"] * max_len)
    raise ValueError(f"loss aggregation {mode!r}; expected one of {', '.join(MODES)}")
