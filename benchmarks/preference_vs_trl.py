"""polyopt's offline preference trainers and reward models vs TRL's DPOTrainer and RewardTrainer, on the same tiny
model, data, warm start, batch and steps; and the win rate of DPO/SimPO/ORPO/KTO over the SFT model under the
synthetic task's true preference.

Protocol: a 2-layer d=128 Llama with a character tokenizer (0.53 M parameters) is built in code and warm-started
with polyopt's SFT helper on the task's warm-start mix (right and corrupted answers); every run then starts from
that checkpoint. The task is ``pref-sort`` (sort four digits; 2,048 training and 256 held-out pairs labelled by the
gold reward). Each run is a separate child process (its peak RSS is its own); polyopt and TRL runs alternate seed by
seed, so load on the shared machine hits both alike.

    python benchmarks/preference_vs_trl.py --part dpo --steps 100 --seeds 3
    python benchmarks/preference_vs_trl.py --part rm --steps 200 --seeds 3
    python benchmarks/preference_vs_trl.py --part winrate --steps 200 --seeds 3 \
        --only winrate-dpo@1e-5,winrate-simpo@3e-5,winrate-orpo@1e-4,winrate-kto@1e-4,winrate-ipo@3e-5

dpo: polyopt ``dpo`` vs TRL ``DPOTrainer`` (sigmoid loss), both with beta 0.1, the learning rate given, constant
schedule, gradient clipping 1, no gradient checkpointing, 32 pairs per step. TRL runs twice: with
``precompute_ref_log_probs=True`` (reference log-probabilities computed once and no reference model kept, as
polyopt does) and with its default (a reference model in memory, scored every step). Reported: seconds per step
(first step excluded; for TRL both the time inside the step and the time between step ends, which includes its
data loading), peak RSS above the process's RSS before the trainer is built, the memory the trainer holds (weights,
gradients, AdamW state, reference model or cached reference log-probabilities), and the held-out preference
accuracy and implicit-reward margin every 10 steps — computed by the same function for both libraries from the
model's log-probabilities and the SFT model's.

rm: polyopt ``reward-model`` vs TRL ``RewardTrainer`` on one sequence-classification checkpoint (the SFT model
with a seeded score head), same steps, batch, learning rate; pairwise accuracy on the held-out pairs with each
library's own reading of the reward (TRL: at the appended ``<eos>``, polyopt: at the last completion token).

winrate: polyopt ``dpo``, ``simpo``, ``orpo``, ``kto`` (and ``ipo``) from the SFT model; the win rate of one sampled
completion (temperature 1) against the SFT model's on 512 prompts under the gold reward (ties count a half).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from llm_vs_trl import peak_mb, rss_mb, warm_libraries  # the shared memory helpers

BATCH, BETA, EVAL_EVERY = 32, 0.1, 10


def task() -> Any:
    from polyopt_envs.preference import PreferenceSort

    return PreferenceSort(length=4, n_pairs=2048, n_test=256)


def prepare(root: Path, sft_steps: int) -> dict[str, Any]:
    """The base model, its SFT checkpoint, and a sequence-classification checkpoint of it."""
    import transformers

    from polyopt_plugins.llm.hf import HFPolicy, save_char_llama
    from polyopt_plugins.llm.sft import sft
    from polyopt_plugins.llm.win_rate import complete, gold_scores

    base = save_char_llama(root / "base", n_layer=2, d_model=128, n_head=4)
    policy = HFPolicy.from_pretrained(str(base))
    t0 = time.perf_counter()
    sft(policy, task(), steps=sft_steps, batch_size=64, generator=torch.Generator().manual_seed(0))
    seconds = time.perf_counter() - t0
    policy.model.save_pretrained(root / "sft")
    policy.tokenizer.tok.save_pretrained(root / "sft")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        classifier = transformers.AutoModelForSequenceClassification.from_pretrained(
            str(root / "sft"), num_labels=1
        )
    classifier.save_pretrained(root / "cls")
    policy.tokenizer.tok.save_pretrained(root / "cls")
    t = task()
    batch = t.sample(512, torch.Generator().manual_seed(0))
    greedy = complete(policy.eval(), batch.prompts, max_new_tokens=t.completion_len)
    sampled = complete(
        policy,
        batch.prompts,
        max_new_tokens=t.completion_len,
        temperature=1.0,
        generator=torch.Generator().manual_seed(1),
    )
    return {
        "sft_seconds": seconds,
        "params": sum(p.numel() for p in policy.parameters()),
        "sft_gold_greedy": float(gold_scores(t, batch, greedy).mean()),
        "sft_gold_sampled": float(gold_scores(t, batch, sampled).mean()),
    }


# -- the shared held-out metric -----------------------------------------------------------------------------------


class HeldOut:
    """Held-out implicit-reward accuracy and margin of a model, against the SFT model's log-probabilities."""

    def __init__(self, sft_dir: str) -> None:
        from polyopt_plugins.llm.hf import HFPolicy
        from polyopt_plugins.llm.pairs import EncodedPairs

        sft = HFPolicy.from_pretrained(sft_dir).eval()
        self.data = EncodedPairs(sft, task().pairs("test"), torch.device("cpu"))
        self.ref = self.logps(sft)

    @torch.no_grad()
    def logps(self, policy: Any) -> dict[str, torch.Tensor]:
        from polyopt_plugins.llm.pairs import sequence_logps

        rows = torch.arange(self.data.n)
        return sequence_logps(policy, self.data, rows, ("chosen", "rejected"))

    def __call__(self, policy: Any) -> tuple[float, float]:
        was_training = policy.training
        policy.eval()
        now = self.logps(policy)
        chosen = BETA * (now["chosen"] - self.ref["chosen"])
        rejected = BETA * (now["rejected"] - self.ref["rejected"])
        policy.train(was_training)
        return float((chosen > rejected).float().mean()), float((chosen - rejected).mean())


def held_mb(modules: list[Any], optimizers: list[Any], tensors: list[torch.Tensor]) -> float:
    """MB of the unique storages of modules' parameters, gradients and buffers, optimizer states and
    ``tensors``."""
    found = list(tensors)
    for module in modules:
        for p in module.parameters():
            found += [p] + ([p.grad] if p.grad is not None else [])
        found += list(module.buffers())
    for opt in optimizers:
        found += [v for st in opt.state.values() for v in st.values() if torch.is_tensor(v)]
    seen = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in found}
    return sum(seen.values()) / 2**20


def timing(times: list[float]) -> float:
    kept = times[1:] if len(times) > 1 else times
    return sum(kept) / len(kept)


# -- dpo ----------------------------------------------------------------------------------------------------------


def run_polyopt_dpo(model: str, steps: int, seed: int, lr: float) -> dict[str, Any]:
    import polyopt

    warm_libraries(model)
    held_out = HeldOut(model)
    base = rss_mb()
    t0 = time.perf_counter()
    opt = polyopt.make(
        "optimizer",
        "dpo",
        task(),
        seed=seed,
        device="cpu",
        model=model,
        lr=lr,
        beta=BETA,
        pairs_per_step=BATCH,
        eval_every=0,
    )
    setup = time.perf_counter() - t0
    times, curve = [], []
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
        if step % EVAL_EVERY == 0:
            curve.append((step, *held_out(opt.policy)))
    ref = [t for d in (opt.ref_train, opt.ref_test) if d for t in d.values()]
    return {
        "setup_s": setup,
        "s_per_step": timing(times),
        "peak_above_start_mb": peak_mb() - base,
        "held_mb": held_mb([opt.policy], [opt.opt], ref),
        "curve": curve,
    }


def run_trl_dpo(model: str, steps: int, seed: int, lr: float, precompute: bool) -> dict[str, Any]:
    import datasets
    import transformers
    import trl

    warm_libraries(model)
    held_out = HeldOut(model)
    pairs = task().pairs("train")
    data = datasets.Dataset.from_dict(
        {"prompt": pairs.prompts, "chosen": pairs.chosen, "rejected": pairs.rejected}
    )
    args = trl.DPOConfig(
        output_dir=tempfile.mkdtemp(),
        per_device_train_batch_size=BATCH,
        learning_rate=lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_steps=steps,
        beta=BETA,
        loss_type=["sigmoid"],
        max_grad_norm=1.0,
        precompute_ref_log_probs=precompute,
        gradient_checkpointing=False,
        logging_steps=10**6,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    base = rss_mb()
    t0 = time.perf_counter()
    tok = transformers.AutoTokenizer.from_pretrained(model)
    lm = transformers.AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    inside: list[float] = []
    between: list[float] = []
    curve: list[tuple[int, float, float]] = []

    class Clock(transformers.TrainerCallback):
        last = 0.0

        def on_train_begin(self, *a: Any, **k: Any) -> None:
            self.last = time.perf_counter()

        def on_step_begin(self, *a: Any, **k: Any) -> None:
            self.t0 = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, *a: Any, **k: Any) -> None:
            now = time.perf_counter()
            inside.append(now - self.t0)
            between.append(now - self.last)
            if state.global_step % EVAL_EVERY == 0:
                from polyopt_plugins.llm.hf import HFPolicy

                curve.append((state.global_step, *held_out(HFPolicy(trainer.model, tok))))
            self.last = time.perf_counter()  # the evaluation is not timed

    trainer = trl.DPOTrainer(
        model=lm, args=args, train_dataset=data, processing_class=tok, callbacks=[Clock()]
    )
    setup = time.perf_counter() - t0
    trainer.train()
    ref_model = getattr(trainer, "ref_model", None)
    modules = [trainer.model] + ([ref_model] if ref_model is not None else [])
    cached = [
        torch.as_tensor(trainer.train_dataset[c])
        for c in ("ref_chosen_logps", "ref_rejected_logps")
        if c in trainer.train_dataset.column_names
    ]
    return {
        "setup_s": setup,
        "s_per_step": timing(between),
        "s_in_step": timing(inside),
        "peak_above_start_mb": peak_mb() - base,
        "held_mb": held_mb(modules, [trainer.optimizer], cached),
        "curve": curve,
    }


# -- reward model ---------------------------------------------------------------------------------------------------


def run_polyopt_rm(model: str, steps: int, seed: int, lr: float) -> dict[str, Any]:
    import polyopt
    from polyopt_plugins.llm.reward_model import pairwise_accuracy

    warm_libraries(model.replace("cls", "sft"))
    base = rss_mb()
    opt = polyopt.make(
        "optimizer",
        "reward-model",
        task(),
        seed=seed,
        device="cpu",
        model=model,
        lr=lr,
        pairs_per_step=BATCH,
        eval_every=0,
    )
    times, curve = [], []
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
        if step % (4 * EVAL_EVERY) == 0:
            curve.append((step, pairwise_accuracy(opt.model.eval(), task().pairs("test"))))
    return {
        "s_per_step": timing(times),
        "peak_above_start_mb": peak_mb() - base,
        "accuracy": curve[-1][1] if curve else pairwise_accuracy(opt.model, task().pairs("test")),
        "curve": curve,
    }


@torch.no_grad()
def native_accuracy(model: Any, tok: Any) -> float:
    """TRL's reading: prompt + completion + <eos>, right-padded, the classifier's score at the last token."""
    pairs = task().pairs("test")
    model.eval()

    def scores(texts: list[str | None]) -> torch.Tensor:
        full = [p + str(t) + tok.eos_token for p, t in zip(pairs.prompts, texts)]
        enc = tok(full, return_tensors="pt", padding=True)
        return model(**enc).logits.squeeze(-1)

    chosen, rejected = scores(pairs.chosen), scores(pairs.rejected)
    model.train()
    return float((chosen > rejected).float().mean() + 0.5 * (chosen == rejected).float().mean())


def run_trl_rm(model: str, steps: int, seed: int, lr: float) -> dict[str, Any]:
    import datasets
    import transformers
    import trl

    warm_libraries(model.replace("cls", "sft"))
    pairs = task().pairs("train")
    data = datasets.Dataset.from_dict(
        {"prompt": pairs.prompts, "chosen": pairs.chosen, "rejected": pairs.rejected}
    )
    args = trl.RewardConfig(
        output_dir=tempfile.mkdtemp(),
        per_device_train_batch_size=BATCH,
        learning_rate=lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_steps=steps,
        max_grad_norm=1.0,
        gradient_checkpointing=False,
        logging_steps=10**6,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=seed,
        disable_tqdm=True,
    )
    base = rss_mb()
    tok = transformers.AutoTokenizer.from_pretrained(model)
    clf = transformers.AutoModelForSequenceClassification.from_pretrained(
        model, num_labels=1, dtype=torch.float32
    )
    times: list[float] = []
    curve: list[tuple[int, float]] = []

    class Clock(transformers.TrainerCallback):
        last = 0.0

        def on_train_begin(self, *a: Any, **k: Any) -> None:
            self.last = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, *a: Any, **k: Any) -> None:
            times.append(time.perf_counter() - self.last)
            if state.global_step % (4 * EVAL_EVERY) == 0:
                curve.append((state.global_step, native_accuracy(trainer.model, tok)))
            self.last = time.perf_counter()

    trainer = trl.RewardTrainer(
        model=clf, args=args, train_dataset=data, processing_class=tok, callbacks=[Clock()]
    )
    trainer.train()
    return {
        "s_per_step": timing(times),
        "peak_above_start_mb": peak_mb() - base,
        "accuracy": curve[-1][1] if curve else native_accuracy(trainer.model, tok),
        "curve": curve,
    }


# -- win rate ------------------------------------------------------------------------------------------------------


def run_winrate(loss: str, model: str, steps: int, seed: int, lr: float) -> dict[str, Any]:
    import polyopt
    from polyopt_plugins.llm.hf import HFPolicy
    from polyopt_plugins.llm.win_rate import win_rate

    opt = polyopt.make(
        "optimizer",
        loss,
        task(),
        seed=seed,
        device="cpu",
        model=model,
        lr=lr,
        pairs_per_step=BATCH,
        eval_every=0,
    )
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.step()
    seconds = time.perf_counter() - t0
    sft = HFPolicy.from_pretrained(model).eval()
    out = win_rate(opt.policy.eval(), sft, task(), n=512, temperature=1.0, seed=1000 + seed)
    greedy = win_rate(opt.policy, sft, task(), n=512, temperature=0.0, seed=1000 + seed)
    accuracy, margin = opt.result().returns[0].tolist()
    return {
        **out,
        "greedy_win_rate": greedy["win_rate"],
        "greedy_gold": greedy["gold"],
        "accuracy": accuracy,
        "margin": margin,
        "seconds": seconds,
    }


# -- driver ----------------------------------------------------------------------------------------------------------


def child(spec: str, model: str, steps: int, seed: int, lr: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", spec, "--model", model, "--steps", str(steps)]
    cmd += ["--seed", str(seed), "--lr", str(lr)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_child(spec: str, model: str, steps: int, seed: int, lr: float) -> dict[str, Any]:
    runs = {
        "polyopt-dpo": lambda: run_polyopt_dpo(model, steps, seed, lr),
        "trl-dpo-precompute": lambda: run_trl_dpo(model, steps, seed, lr, True),
        "trl-dpo": lambda: run_trl_dpo(model, steps, seed, lr, False),
        "polyopt-rm": lambda: run_polyopt_rm(model, steps, seed, lr),
        "trl-rm": lambda: run_trl_rm(model, steps, seed, lr),
    }
    if spec.startswith("winrate-"):
        return run_winrate(spec.removeprefix("winrate-"), model, steps, seed, lr)
    return runs[spec]()


def mean_std(values: list[float]) -> str:
    t = torch.tensor(values, dtype=torch.float64)
    std = float(t.std()) if t.numel() > 1 else 0.0
    return f"{float(t.mean()):.3f} ± {std:.3f}"


def report_dpo(results: dict[tuple[str, int], dict[str, Any]], specs: list[str]) -> None:
    print("\n| run | seed | s/step | s in step (TRL) | setup s | peak above start MB | held MB |")
    print("|---|---|---|---|---|---|---|")
    for (spec, seed), r in results.items():
        if "error" in r:
            print(f"| {spec} | {seed} | error: {r['error'][:100]} |")
            continue
        inner = f"{r['s_in_step']:.4f}" if "s_in_step" in r else "-"
        print(
            f"| {spec} | {seed} | {r['s_per_step']:.4f} | {inner} | {r['setup_s']:.1f} | "
            f"{r['peak_above_start_mb']:.0f} | {r['held_mb']:.1f} |"
        )
    ok = {k: v for k, v in results.items() if "error" not in v}
    steps = sorted({s for r in ok.values() for s, *_ in r["curve"]})
    print("\n| step | " + " | ".join(f"{s} acc | {s} margin" for s in specs) + " |")
    print("|---|" + "---|---|" * len(specs))
    for step in steps:
        cells = []
        for spec in specs:
            points = [
                p for (sp, _), r in ok.items() if sp == spec for p in r["curve"] if p[0] == step
            ]
            cells.append(mean_std([p[1] for p in points]) if points else "-")
            cells.append(mean_std([p[2] for p in points]) if points else "-")
        print(f"| {step} | " + " | ".join(cells) + " |")
    for spec in specs[1:]:
        mine = [r["s_per_step"] for (sp, _), r in ok.items() if sp == specs[0]]
        theirs = [r["s_per_step"] for (sp, _), r in ok.items() if sp == spec]
        if mine and theirs:
            print(
                f"steps/s ratio {specs[0]} / {spec}: {sum(theirs) / sum(mine) * len(mine) / len(theirs):.2f}x"
            )


def report_means(results: dict[tuple[str, int], dict[str, Any]], specs: list[str]) -> None:
    """Mean ± std over seeds of every number the runs report."""
    for spec in specs:
        runs = [r for (sp, _), r in results.items() if sp == spec and "error" not in r]
        keys = [k for k, v in runs[0].items() if isinstance(v, float)] if runs else []
        cells = ", ".join(f"{k} {mean_std([r[k] for r in runs])}" for k in keys)
        print(f"| {spec} | {len(runs)} seeds | {cells} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("dpo", "rm", "winrate"), default="dpo")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--sft-steps", type=int, default=600)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--only", default="")
    ap.add_argument("--child", default="")
    ap.add_argument("--model", default="")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--root", default="", help="reuse (or create) the prepared checkpoints here")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.environ["POLYOPT_THREADS"] = "1"
    if a.child:
        print(json.dumps(run_child(a.child, a.model, a.steps, a.seed, a.lr)))
        return
    lr = a.lr or {"dpo": 1e-4, "rm": 1e-4, "winrate": 1e-4}[a.part]
    specs = {
        "dpo": ["polyopt-dpo", "trl-dpo-precompute", "trl-dpo"],
        "rm": ["polyopt-rm", "trl-rm"],
        "winrate": [f"winrate-{x}" for x in ("dpo", "simpo", "orpo", "kto", "ipo")],
    }[a.part]
    specs = a.only.split(",") if a.only else specs
    print(f"# load before: {os.getloadavg()}", flush=True)
    root = Path(a.root or tempfile.mkdtemp())
    info_file = root / "info.json"
    if not info_file.exists():
        info_file.parent.mkdir(parents=True, exist_ok=True)
        info_file.write_text(json.dumps({**prepare(root, a.sft_steps), "sft_steps": a.sft_steps}))
    info = json.loads(info_file.read_text())
    print(f"# {json.dumps(info)}", flush=True)
    model = str(root / ("cls" if a.part == "rm" else "sft"))
    print(f"# part {a.part}: {a.steps} steps, {BATCH} pairs/step, lr {lr}, beta {BETA}", flush=True)
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for seed in range(a.seeds):  # interleaved: every library once per seed
        for spec in specs:
            name, _, own_lr = spec.partition("@")  # winrate-simpo@3e-5: this run's learning rate
            results[(spec, seed)] = child(name, model, a.steps, seed, float(own_lr or lr))
            print(
                spec,
                seed,
                json.dumps(results[(spec, seed)]),
                f"load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    if a.part == "dpo":
        report_dpo(results, specs)
    else:
        report_means(results, specs)
    print(f"# load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
