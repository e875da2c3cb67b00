"""polyopt's GRPO/RLOO vs TRL's GRPOTrainer/RLOOTrainer on the same tiny Llama, warm start, task and batch.

Protocol (issue 5): a 2-layer d=128 Llama with a character tokenizer is built in code and warm-started with
polyopt's SFT helper on 2-digit addition; every run then starts from that checkpoint with 16 prompts x 8
completions per step, the same reward (exact + 0.5 partial credit), learning rate, clipping, temperature and
steps. Each run is a separate child process (so peak RSS is its own); one process run prints every table.

    python benchmarks/llm_vs_trl.py --steps 60 --sft-steps 500 --threads 1
    python benchmarks/llm_vs_trl.py --steps 300 --seeds 3 --only polyopt-grpo,trl-grpo   # learning
    python benchmarks/llm_vs_trl.py --steps 60 --seeds 2 --only loop-grpo,polyopt-grpo   # a framework-free loop
    python benchmarks/llm_vs_trl.py --steps 10 --only polyopt-remax,polyopt-ppo --sft-steps 0 --d-model 512 \
        --layers 4                                                                       # memory, bigger model

polyopt runs with its documented defaults (``TrainerConfig``: lr 5e-6, clip 0.2, temperature 0.5, grad norm 1, no
KL); TRL gets the same values (it too computes the loss's log-probabilities at the sampling temperature), and
neither checkpoints gradients (TRL 1.16 does by default; ``--trl-checkpointing`` turns it on). "held MB" is the
memory the algorithm itself holds after its last step: the unique storages of parameters, gradients, optimizer
states, reference and critic models (activations are transient and not included); peak RSS is dominated by the
Python/torch runtime at 0.53 M parameters, so the peak RSS above the process's RSS just before the trainer is
built (libraries imported and warmed by loading the model once and dropping it, one optimizer step) is reported
too: what the run itself adds — weights, reference, critic, optimizer state and activations. "peak tensor MB"
(polyopt runs, two extra untimed steps) is the peak of live tensor storage, held tensors and activations: what
``torch.cuda.max_memory_allocated`` measures on a GPU, where the ReMax paper measured. ``--lr`` and
``--temperature`` run both libraries at another value.

Reported: seconds per step (first step excluded as warm-up), generated tokens/s end to end, polyopt's
per-step breakdown (generation, scoring, update), peak RSS, greedy accuracy after SFT and after RL (on 512
sampled prompts, and on all 10,000 prompts of the task), and ReMax vs PPO (with critic) peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

N_DIGITS, PROMPTS, GROUP = 2, 16, 8


OVERRIDES: dict[
    str, float
] = {}  # --lr, --temperature: both libraries at another value than polyopt's default
TRL_CHECKPOINTING = (
    False  # --trl-checkpointing: TRL with its own default, gradient checkpointing on
)


def setting(name: str) -> float:
    """The value both libraries run with: polyopt's documented default unless overridden."""
    from polyopt_plugins.llm.config import TrainerConfig

    return OVERRIDES.get(name, getattr(TrainerConfig(), name))


def held_tensors(opt) -> list[torch.Tensor]:
    """The tensors the trainer holds between steps: weights, gradients, optimizer states, reference, critic."""
    tensors = []
    for module in (opt.policy, opt.ref, opt.critic):
        if module is not None:
            for p in module.parameters():
                tensors += [p] + ([p.grad] if p.grad is not None else [])
            tensors += list(module.buffers())
    for o in (opt.opt, opt.critic_opt):
        if o is not None:
            tensors += [v for st in o.state.values() for v in st.values() if torch.is_tensor(v)]
    return tensors


def held_mb(opt) -> float:
    """MB of the unique tensor storages of :func:`held_tensors`."""
    seen = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in held_tensors(opt)}
    return sum(seen.values()) / 2**20


def peak_tensor_mb(opt, steps: int = 2) -> float:
    """Peak MB of live tensor storage over ``steps`` more steps, the held tensors included: on the CPU what
    ``torch.cuda.max_memory_allocated`` reports on a GPU (without the allocator's rounding and caching), so the
    runtime's own memory, which dominates RSS at 0.53 M parameters, is left out.

    Every op runs under a dispatch mode that counts each output storage not aliasing an input (views and in-place
    results are not new memory) from its creation until it is freed (a finalizer on the storage, whose Python
    object lives exactly as long as the storage). Tracking slows a step down ~3x; nothing timed runs under it.
    """
    import weakref

    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class Peak(TorchDispatchMode):
        def __init__(self, held):
            super().__init__()
            self.live = self.peak = 0
            self.counted: set[int] = set()
            for t in held:
                self.count(t.untyped_storage())

        def count(self, storage) -> None:
            key = id(storage)
            if key not in self.counted:
                self.counted.add(key)
                self.live += storage.nbytes()
                self.peak = max(self.peak, self.live)
                weakref.finalize(storage, self.release, key, storage.nbytes())

        def release(self, key: int, nbytes: int) -> None:
            self.live -= nbytes
            self.counted.discard(key)

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            inputs = {
                id(t.untyped_storage())
                for t in tree_leaves((args, kwargs))
                if isinstance(t, torch.Tensor)
            }
            for t in tree_leaves(out):
                if isinstance(t, torch.Tensor) and id(t.untyped_storage()) not in inputs:
                    self.count(t.untyped_storage())
            return out

    opt.policy.train()
    with Peak(held_tensors(opt)) as tracker:
        for _ in range(steps):
            opt.step()
    return tracker.peak / 2**20


def held_out(policy) -> float:
    from polyopt_envs.text import Addition
    from polyopt_plugins.llm.sft import greedy_accuracy

    return greedy_accuracy(
        policy, Addition(n_digits=N_DIGITS), n=512, generator=torch.Generator().manual_seed(999)
    )


def all_prompts_accuracy(policy) -> float:
    """Greedy accuracy over every prompt the task can draw: all 100 x 100 operand pairs (each operand is uniform
    on 0-99), so the number carries no sampling error (512 sampled prompts carry about 2 points of standard
    error). Nothing can be held out of 2-digit addition: SFT alone draws 32,000 prompts of the 10,000."""
    from polyopt_envs.text import Addition
    from polyopt_envs.text.base import TaskBatch
    from polyopt_plugins.llm.sft import greedy_scores

    task, top = Addition(n_digits=N_DIGITS), 10**N_DIGITS
    pairs = [(a, b) for a in range(top) for b in range(top)]
    hits = 0.0
    for i in range(0, len(pairs), 2000):
        chunk = pairs[i : i + 2000]
        batch = TaskBatch(
            [f"{a}+{b}=" for a, b in chunk], {"answer": [str(a + b) for a, b in chunk]}
        )
        hits += float(greedy_scores(policy, task, batch).sum())
    return hits / len(pairs)


def _proc_status_mb(key: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` in MB; None where there is no such file (not Linux)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024
    except (OSError, StopIteration):
        return None


def peak_mb() -> float:
    """This process's own peak resident set size (Linux ``VmHWM``; elsewhere ``ru_maxrss``). Not ``ru_maxrss`` on
    Linux: it survives fork and exec, so a child run would report at least the parent's RSS at the fork (the
    parent has trained and evaluated the SFT model)."""
    own = _proc_status_mb("VmHWM")
    return own if own is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm_libraries(model: str) -> None:
    """Load and drop the model and take one optimizer step, so library code imported on first use (the model
    classes, and torch._dynamo, ~80 MB, which the first ``optimizer.step()`` imports and ``import trl`` already
    has) is in the baseline of every run."""
    import gc

    import transformers

    transformers.AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    transformers.AutoTokenizer.from_pretrained(model)
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([w])
    w.sum().backward()
    opt.step()
    gc.collect()


def rss_mb() -> float:
    """Current resident set size (Linux; elsewhere the peak so far)."""
    now = _proc_status_mb("VmRSS")
    return now if now is not None else peak_mb()


def prepare(root: Path, sft_steps: int, d_model: int, layers: int) -> dict:
    from polyopt_envs.text import Addition
    from polyopt_plugins.llm.hf import HFPolicy, save_char_llama
    from polyopt_plugins.llm.sft import sft

    base = save_char_llama(root / "base", n_layer=layers, d_model=d_model, n_head=4)
    policy = HFPolicy.from_pretrained(str(base))
    t0 = time.perf_counter()
    sft(
        policy,
        Addition(n_digits=N_DIGITS),
        steps=sft_steps,
        batch_size=64,
        generator=torch.Generator().manual_seed(0),
    )
    policy.model.save_pretrained(root / "sft")
    policy.tokenizer.tok.save_pretrained(root / "sft")
    n_params = sum(p.numel() for p in policy.parameters())
    return {
        "sft_seconds": time.perf_counter() - t0,
        "sft_accuracy": held_out(policy.eval()),
        "sft_accuracy_all": all_prompts_accuracy(policy),
        "params": n_params,
    }


def summary(times: list[float], tokens: list[float], base: float, policy) -> dict:
    """What every run reports: seconds per step and generated tokens/s (first step excluded as warm-up), peak RSS
    (read before the evaluation), and greedy accuracy on the 512 sampled prompts and on all of them."""
    keep = slice(1, None) if len(times) > 1 else slice(None)
    seconds = sum(times[keep])
    out = {
        "s_per_step": seconds / len(times[keep]),
        "tokens_per_s": sum(tokens[keep]) / seconds,
        "peak_rss_mb": peak_mb(),
        "peak_above_start_mb": peak_mb() - base,
    }
    policy.eval()
    return {**out, "accuracy": held_out(policy), "accuracy_all": all_prompts_accuracy(policy)}


def run_polyopt(name: str, model: str, steps: int, seed: int) -> dict:
    import polyopt
    from polyopt_envs.text import Addition

    warm_libraries(model)
    base = rss_mb()
    opt = polyopt.make(
        "optimizer",
        name,
        Addition(n_digits=N_DIGITS),
        seed=seed,
        device="cpu",
        model=model,
        lr=setting("lr"),
        temperature=setting("temperature"),
        prompts_per_step=PROMPTS,
        completions_per_prompt=GROUP,
    )
    rows, times = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        rows.append(opt.step())
        times.append(time.perf_counter() - t0)
    out = {**summary(times, [r["tokens"] for r in rows], base, opt.policy), "held_mb": held_mb(opt)}
    keep = slice(1, None) if steps > 1 else slice(None)
    for part in ("generation", "scoring", "update"):
        out[part] = sum(r[f"time/{part}"] for r in rows[keep]) / len(times[keep])
    out["peak_tensor_mb"] = peak_tensor_mb(opt)  # after everything above is measured
    return out


def run_trl(kind: str, model: str, steps: int, seed: int) -> dict:
    import datasets
    import transformers
    import trl

    from polyopt_envs.text import Addition
    from polyopt_envs.text.base import TaskBatch
    from polyopt_plugins.llm.hf import HFPolicy

    task = Addition(n_digits=N_DIGITS)
    batch = task.sample(PROMPTS * (steps + 2), torch.Generator().manual_seed(seed))
    data = datasets.Dataset.from_dict({"prompt": batch.prompts, "answer": batch.fields["answer"]})

    generated: list[
        int
    ] = []  # tokens per call: characters + <eos>, capped at the length limit (char tokenizer)

    def reward(prompts, completions, answer, **_):
        generated.append(sum(min(len(c) + 1, task.completion_len) for c in completions))
        scores = task.score(TaskBatch(list(prompts), {"answer": list(answer)}), list(completions))
        return (scores @ torch.tensor([1.0, 0.5])).tolist()

    common = dict(
        output_dir=tempfile.mkdtemp(),
        per_device_train_batch_size=PROMPTS * GROUP,
        num_generations=GROUP,
        max_completion_length=task.completion_len,
        learning_rate=setting("lr"),
        lr_scheduler_type="constant",
        max_steps=steps,
        logging_steps=10**6,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=seed,
        temperature=setting("temperature"),
        beta=0.0,
        max_grad_norm=1.0,
        warmup_steps=0,
        disable_tqdm=True,
        gradient_checkpointing=TRL_CHECKPOINTING,
    )
    if kind == "grpo":
        args, cls = trl.GRPOConfig(**common, loss_type="grpo"), trl.GRPOTrainer
    else:
        args, cls = trl.RLOOConfig(**common), trl.RLOOTrainer
    warm_libraries(model)
    base = rss_mb()
    tok = transformers.AutoTokenizer.from_pretrained(model)
    lm = transformers.AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    times: list[float] = []

    class Clock(transformers.TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t0 = time.perf_counter()

        def on_step_end(self, *a, **k):
            times.append(time.perf_counter() - self.t0)

    trainer = cls(
        model=lm,
        reward_funcs=reward,
        args=args,
        train_dataset=data,
        processing_class=tok,
        callbacks=[Clock()],
    )
    trainer.train()
    return summary(times, generated, base, HFPolicy(trainer.model, tok))


def run_loop(model: str, steps: int, seed: int) -> dict:
    """The issue's calibration: a framework-free GRPO step with the same settings — Hugging Face ``generate``,
    the rewards, group-normalized advantages, one forward and backward over all 128 prompt+completion rows at the
    sampling temperature, gradient clipping and AdamW. No prompt sharing, no lean sampler."""
    import transformers

    from polyopt_envs.text import Addition
    from polyopt_plugins.llm.hf import HFPolicy

    warm_libraries(model)
    base = rss_mb()
    torch.manual_seed(seed)
    tok = transformers.AutoTokenizer.from_pretrained(model, padding_side="left")
    lm = transformers.AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    opt = torch.optim.AdamW(lm.parameters(), lr=setting("lr"), weight_decay=0.0)
    task, gen, temperature = (
        Addition(n_digits=N_DIGITS),
        torch.Generator().manual_seed(seed),
        setting("temperature"),
    )
    times, tokens = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        batch = task.sample(PROMPTS, gen).repeat(GROUP)
        enc = tok(batch.prompts, return_tensors="pt", padding=True)
        with torch.no_grad():
            out = lm.generate(
                **enc,
                do_sample=True,
                temperature=temperature,
                top_k=0,
                max_new_tokens=task.completion_len,
                pad_token_id=tok.pad_token_id,
            )
        width = enc.input_ids.shape[1]
        comp = out[:, width:]
        is_eos = comp == tok.eos_token_id
        cmask = (
            is_eos.long().cumsum(1) - is_eos.long()
        ) == 0  # up to and including the first <eos>
        texts = tok.batch_decode(
            torch.where(cmask, comp, tok.pad_token_id), skip_special_tokens=True
        )
        reward = (task.score(batch, texts) @ torch.tensor([1.0, 0.5])).view(PROMPTS, GROUP)
        adv = ((reward - reward.mean(1, keepdim=True)) / (reward.std(1, keepdim=True) + 1e-4)).view(
            -1, 1
        )
        mask = torch.cat([enc.attention_mask.bool(), cmask], 1)
        logits = lm(
            input_ids=out,
            attention_mask=mask.long(),
            position_ids=(mask.long().cumsum(1) - 1).clamp_min(0),
        ).logits[:, width - 1 : -1]
        logp = (
            torch.log_softmax(logits.float() / temperature, -1)
            .gather(-1, comp.unsqueeze(-1))
            .squeeze(-1)
        )
        m = cmask.float()
        loss = -((adv * logp * m).sum(1) / m.sum(1).clamp_min(1)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
        tokens.append(int(cmask.sum()))
    return summary(times, tokens, base, HFPolicy(lm, tok))


def child(spec: str, model: str, steps: int, seed: int, threads: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        spec,
        "--model",
        model,
        "--steps",
        str(steps),
        "--seed",
        str(seed),
        "--threads",
        str(threads),
    ] + [f"--{k}={v}" for k, v in OVERRIDES.items()]
    cmd += ["--trl-checkpointing"] if TRL_CHECKPOINTING else []
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--sft-steps", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--child", default="")
    ap.add_argument("--model", default="")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate for both libraries (default: polyopt's)",
    )
    ap.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature for both (default: polyopt's)",
    )
    ap.add_argument(
        "--trl-checkpointing",
        action="store_true",
        help="TRL with gradient checkpointing, its default "
        "(polyopt does not checkpoint, so by default neither does TRL here)",
    )
    ap.add_argument(
        "--only", default="polyopt-grpo,polyopt-rloo,trl-grpo,trl-rloo,polyopt-remax,polyopt-ppo"
    )
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.environ["POLYOPT_THREADS"] = str(a.threads)  # polyopt.run's own default is 1 on the CPU
    global TRL_CHECKPOINTING
    TRL_CHECKPOINTING = a.trl_checkpointing
    OVERRIDES.update(
        {k: v for k, v in (("lr", a.lr), ("temperature", a.temperature)) if v is not None}
    )
    if a.child:
        lib, name = a.child.split("-", 1)
        runs = {
            "polyopt": lambda: run_polyopt(name, a.model, a.steps, a.seed),
            "trl": lambda: run_trl(name, a.model, a.steps, a.seed),
            "loop": lambda: run_loop(a.model, a.steps, a.seed),
        }
        out = runs[lib]()
        print(json.dumps(out))
        return
    root = Path(tempfile.mkdtemp())
    info = prepare(root, a.sft_steps, a.d_model, a.layers)
    print(
        f"# tiny Llama: {info['params'] / 1e6:.2f} M params; SFT {a.sft_steps} steps in {info['sft_seconds']:.1f} s;"
        f" greedy accuracy after SFT {info['sft_accuracy']:.3f} (512 sampled prompts), "
        f"{info['sft_accuracy_all']:.4f} (all prompts)"
    )
    print(
        f"# {PROMPTS} prompts x {GROUP} completions, {a.steps} steps, {a.threads} thread(s), lr {setting('lr')}, "
        f"temperature {setting('temperature')}"
    )
    results = {}
    for spec in a.only.split(","):
        for seed in range(a.seeds):
            results[(spec, seed)] = child(spec, str(root / "sft"), a.steps, seed, a.threads)
            print(spec, seed, json.dumps(results[(spec, seed)]), flush=True)
    print(
        "\n| run | seed | s/step | tokens/s | gen s | score s | update s | peak RSS MB | above start MB | held MB "
        "| peak tensor MB | acc SFT -> RL (512 prompts) | acc SFT -> RL (all prompts) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (spec, seed), r in results.items():
        if "error" in r:
            print(f"| {spec} | {seed} | error: {r['error'][:80]} |")
            continue
        cols = [
            f"{r.get(k, float('nan')):.3f}" if k in r else "-"
            for k in ("s_per_step", "tokens_per_s", "generation", "scoring", "update")
        ]
        held, tensor = (f"{r[k]:.1f}" if k in r else "-" for k in ("held_mb", "peak_tensor_mb"))
        print(
            f"| {spec} | {seed} | " + " | ".join(cols) + f" | {r['peak_rss_mb']:.0f} | "
            f"{r['peak_above_start_mb']:.0f} | {held} | {tensor} | "
            f"{info['sft_accuracy']:.3f} -> {r['accuracy']:.3f} | "
            f"{info['sft_accuracy_all']:.4f} -> {r['accuracy_all']:.4f} |"
        )


if __name__ == "__main__":
    main()
