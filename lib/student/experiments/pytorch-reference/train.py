#!/usr/bin/env python3
"""The PyTorch reference trainer of zsd's accuracy parity (issue 20, item 4): trains the student of a plan.json
(export-plan.ts) with PyTorch + Hugging Face transformers, on exactly the batches zsd's trainer walks, and writes the
generated answers of every evaluation for score.ts to score with zsd's own rule.

    python train.py DIR/plan.json [--threads 1] [--out DIR]       # writes DIR/predictions-<seed>.json
    python train.py DIR/plan.json --evaluate-checkpoint CKPT      # writes DIR/checkpoint-predictions-<seed>.json

The second form trains nothing: it loads a zsd checkpoint (config.json + model.safetensors, e.g. a `zsd train` run's
checkpoints/step-N/) into transformers and generates the plan's validation and test answers with this file's
evaluation, so score.ts can check the evaluation half of the parity on its own (the same weights must score what zsd
scored them).

The loop is the trajectory-parity fixture's (lib/student/fixtures/trajectory-fixture.py), which proves it equals zsd's
update for update with dropout 0; here with the plan's dropout and a whole run:
- the model: T5ForConditionalGeneration(T5Config(**plan["model"])) from transformers' own init after
  torch.manual_seed(seed); dropout_rate as the config has it (0.1 for zsd-scratch);
- an update = gradientAccumulationSteps micro-steps of an epoch (the epoch's last update holds what is left); each
  micro-step's batches contribute coefficient * mean token cross-entropy / (micro-steps in the update) to the gradient
  (alpha for the label batch, (1 - alpha) * share for each rationale batch; a batch without label tokens adds 0);
  label smoothing as torch's cross_entropy(label_smoothing=eps), which is transformers' label_smoothing_factor;
- clip_grad_norm_(maxGradNorm), torch.optim.AdamW (no weight decay on layer norms), transformers' schedule with
  warm-up (linear, cosine, constant) stepped after each update;
- every evalSteps updates and after the last: greedy generation (maxNewTokens) on validation, and on test (with
  testNumBeams) so that score.ts can pick the checkpoint by validation accuracy afterwards without keeping weights.
Batches are padded as zsd's makeBatches pads them: inputs with pad (0) and attention 0, labels with -100.
"""

import argparse
import json
import os
import platform
import sys
import time

import torch
import torch.nn.functional as F
import transformers
from transformers import T5Config, T5ForConditionalGeneration
from transformers.optimization import (
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

IGNORED_LABEL_ID = -100
PAD_ID = 0


class PlanError(Exception):
    """A plan this trainer cannot run; the message names the key."""


def pad_batch(rows: list, slot: str, source: str | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    encodings = [row["predict"] if slot == "predict" else row["explain"][source] for row in rows]
    input_length = max(len(encoding["inputIds"]) for encoding in encodings)
    label_length = max(len(encoding["labels"]) for encoding in encodings)
    input_ids = [e["inputIds"] + [PAD_ID] * (input_length - len(e["inputIds"])) for e in encodings]
    attention = [[1] * len(e["inputIds"]) + [0] * (input_length - len(e["inputIds"])) for e in encodings]
    labels = [e["labels"] + [IGNORED_LABEL_ID] * (label_length - len(e["labels"])) for e in encodings]
    return (
        torch.tensor(input_ids, dtype=torch.long),
        torch.tensor(attention, dtype=torch.long),
        torch.tensor(labels, dtype=torch.long),
    )


def build_model(plan: dict) -> T5ForConditionalGeneration:
    config = T5Config(**plan["model"])
    torch.manual_seed(plan["seed"])
    return T5ForConditionalGeneration(config)


def build_optimizer(model: T5ForConditionalGeneration, trainer: dict) -> torch.optim.Optimizer:
    spec = trainer["optimizer"]
    if spec["kind"] != "adamw":
        raise PlanError(f'trainer.optimizer.kind: the reference runs AdamW only, got {spec["kind"]}')
    named = list(model.named_parameters())
    no_decay = [param for name, param in named if name.endswith("layer_norm.weight")]
    decay = [param for name, param in named if not name.endswith("layer_norm.weight")]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": spec.get("weightDecay", 0.01)}, {"params": no_decay, "weight_decay": 0.0}],
        lr=trainer["learningRate"],
        betas=(spec.get("beta1", 0.9), spec.get("beta2", 0.999)),
        eps=spec.get("epsilon", 1e-8),
    )


def build_schedule(optimizer: torch.optim.Optimizer, trainer: dict, total_steps: int):
    schedule = trainer["schedule"]
    warmup = schedule["warmupSteps"]
    if schedule["kind"] == "linear":
        return get_linear_schedule_with_warmup(optimizer, warmup, total_steps)
    if schedule["kind"] == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, warmup, total_steps, num_cycles=schedule.get("cycles", 0.5))
    if schedule["kind"] == "constant":
        return get_constant_schedule_with_warmup(optimizer, warmup)
    raise PlanError(f'trainer.schedule.kind: unknown schedule {schedule["kind"]}')


def batch_loss(model, input_ids, attention, labels, label_smoothing: float) -> torch.Tensor:
    logits = model(input_ids=input_ids, attention_mask=attention, labels=labels).logits
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORED_LABEL_ID, label_smoothing=label_smoothing
    )


@torch.no_grad()
def generate(model, rows: list, batch_size: int, max_new_tokens: int, num_beams: int) -> list:
    """Answers in row order; inputs batched by length as zsd's evaluateStudent batches them. Ids after the start token."""
    order = sorted(range(len(rows)), key=lambda index: (len(rows[index]["inputIds"]), index))
    answers = [None] * len(rows)
    for start in range(0, len(order), batch_size):
        members = order[start : start + batch_size]
        length = max(len(rows[index]["inputIds"]) for index in members)
        input_ids = torch.tensor([rows[i]["inputIds"] + [PAD_ID] * (length - len(rows[i]["inputIds"])) for i in members])
        attention = torch.tensor([[1] * len(rows[i]["inputIds"]) + [0] * (length - len(rows[i]["inputIds"])) for i in members])
        sequences = model.generate(
            input_ids=input_ids,
            attention_mask=attention,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            do_sample=False,
            decoder_start_token_id=model.config.decoder_start_token_id,
            eos_token_id=model.config.eos_token_id,
            pad_token_id=model.config.pad_token_id,
        )
        for row, index in enumerate(members):
            ids = sequences[row, 1:].tolist()
            # after </s> generate pads; keep up to and including the first </s>
            if model.config.eos_token_id in ids:
                ids = ids[: ids.index(model.config.eos_token_id) + 1]
            answers[index] = ids
    return answers


def train(plan: dict, threads: int, log=sys.stderr) -> dict:
    trainer = plan["trainer"]
    if trainer.get("earlyStoppingPatience") is not None:
        raise PlanError("trainer.earlyStoppingPatience: the reference trains every update; export the plan without --patience")
    torch.set_num_threads(threads)
    model = build_model(plan)
    model.train()
    optimizer = build_optimizer(model, trainer)
    total_steps = plan["totalSteps"]
    scheduler = build_schedule(optimizer, trainer, total_steps)
    accumulation = trainer["gradientAccumulationSteps"]
    eval_steps = trainer["evalSteps"]
    label_smoothing = trainer.get("labelSmoothing", 0.0)
    rows = plan["train"]

    train_log, evaluations = [], []
    timings = {"trainSeconds": 0.0, "validationSeconds": 0.0, "testSeconds": 0.0}
    step, epoch, started = 0, 0, time.perf_counter()
    while step < total_steps:
        micro_steps = plan["epochs"][epoch]
        for group_start in range(0, len(micro_steps), accumulation):
            if step >= total_steps:
                break
            update_start = time.perf_counter()
            group = micro_steps[group_start : group_start + accumulation]
            optimizer.zero_grad(set_to_none=True)
            reported = {"loss": 0.0, "labelLoss": 0.0, "rationaleLoss": None}
            for micro in group:
                for batch in micro:
                    input_ids, attention, labels = pad_batch([rows[p] for p in batch["rows"]], batch["task"], batch.get("source"))
                    if (labels != IGNORED_LABEL_ID).sum() == 0:
                        continue  # zsd: a batch without label tokens contributes 0
                    loss = batch_loss(model, input_ids, attention, labels, label_smoothing)
                    (loss * batch["coefficient"] / len(group)).backward()
                    value = loss.item()
                    reported["loss"] += batch["coefficient"] * value / len(group)
                    if batch["task"] == "predict":
                        reported["labelLoss"] += value / len(group)
                    else:
                        share = batch["coefficient"] / (1 - trainer["alpha"]) if trainer["alpha"] < 1 else 0.0
                        reported["rationaleLoss"] = (reported["rationaleLoss"] or 0.0) + share * value / len(group)
            learning_rate = optimizer.param_groups[0]["lr"]
            norm = None
            if trainer["maxGradNorm"] is not None:
                norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), trainer["maxGradNorm"]))
            optimizer.step()
            scheduler.step()
            step += 1
            timings["trainSeconds"] += time.perf_counter() - update_start
            train_log.append({"step": step, **reported, "learningRate": learning_rate, "gradientNorm": norm})
            if step % 10 == 0 or step == total_steps:
                print(f"step {step}/{total_steps} · epoch {epoch} · loss {reported['loss']:.4f} · {time.perf_counter() - started:.0f} s", file=log, flush=True)

            if (eval_steps is not None and step % eval_steps == 0) or step == total_steps:
                model.eval()
                eval_start = time.perf_counter()
                validation = generate(model, plan["validation"], trainer["evalBatchSize"], trainer["evalMaxNewTokens"], 1)
                timings["validationSeconds"] += time.perf_counter() - eval_start
                test_start = time.perf_counter()
                test = generate(model, plan["test"], trainer["evalBatchSize"], trainer["evalMaxNewTokens"], trainer.get("testNumBeams", 1))
                timings["testSeconds"] += time.perf_counter() - test_start
                model.train()
                evaluations.append({"step": step, "epoch": epoch, "elapsedSeconds": time.perf_counter() - started, "validation": validation, "test": test})
                print(f"step {step}: evaluated {len(validation)} validation and {len(test)} test rows", file=log, flush=True)
        epoch += 1
    timings["totalSeconds"] = time.perf_counter() - started
    return {
        "formatVersion": 1,
        "kind": "zsd-pytorch-reference-predictions",
        "framework": "pytorch",
        "arm": plan["arm"],
        "task": plan["task"],
        "seed": plan["seed"],
        "totalSteps": total_steps,
        "threads": threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "parameters": sum(param.numel() for param in model.parameters()),
        "timings": timings,
        "train": train_log,
        "evaluations": evaluations,
    }


def evaluate_checkpoint(plan: dict, checkpoint: str, threads: int) -> dict:
    torch.set_num_threads(threads)
    model = T5ForConditionalGeneration.from_pretrained(checkpoint)
    model.eval()
    trainer = plan["trainer"]
    step = 0
    state = os.path.join(checkpoint, "trainer-state.json")
    if os.path.exists(state):
        with open(state) as file:
            step = json.load(file)["progress"]["step"]
    started = time.perf_counter()
    validation = generate(model, plan["validation"], trainer["evalBatchSize"], trainer["evalMaxNewTokens"], 1)
    validation_seconds = time.perf_counter() - started
    test = generate(model, plan["test"], trainer["evalBatchSize"], trainer["evalMaxNewTokens"], trainer.get("testNumBeams", 1))
    return {
        "formatVersion": 1,
        "kind": "zsd-pytorch-reference-predictions",
        "framework": "pytorch",
        "arm": plan["arm"],
        "task": plan["task"],
        "seed": plan["seed"],
        "checkpoint": os.path.abspath(checkpoint),
        "totalSteps": step,
        "threads": threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "timings": {"trainSeconds": 0.0, "validationSeconds": validation_seconds, "testSeconds": time.perf_counter() - started - validation_seconds},
        "train": [],
        "evaluations": [{"step": step, "epoch": None, "elapsedSeconds": 0.0, "validation": validation, "test": test}],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("plan", help="plan.json written by export-plan.js")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--out", help="directory for predictions-<seed>.json (default: the plan's)")
    parser.add_argument("--evaluate-checkpoint", metavar="DIR", help="train nothing: generate with this zsd checkpoint's weights")
    args = parser.parse_args()
    with open(args.plan) as file:
        plan = json.load(file)
    if plan.get("kind") != "zsd-pytorch-reference-plan" or plan.get("formatVersion") != 1:
        raise SystemExit(f"{args.plan}: not a zsd PyTorch reference plan of format 1 (kind, formatVersion)")
    try:
        result = evaluate_checkpoint(plan, args.evaluate_checkpoint, args.threads) if args.evaluate_checkpoint else train(plan, args.threads)
    except PlanError as error:
        raise SystemExit(f"{args.plan}: {error}")
    name = f'{"checkpoint-" if args.evaluate_checkpoint else ""}predictions-{plan["seed"]}.json'
    out = os.path.join(args.out or os.path.dirname(os.path.abspath(args.plan)), name)
    with open(out + ".tmp", "w") as file:
        json.dump(result, file)
        file.write("\n")
    os.replace(out + ".tmp", out)
    timings = result["timings"]
    print(f"{out}: {result['totalSteps']} updates in {timings['trainSeconds']:.1f} s (+ {timings['validationSeconds']:.1f} s validation, {timings['testSeconds']:.1f} s test)")


if __name__ == "__main__":
    main()
