"""The PyTorch anchor for `npm run bench -- train-step`: one AdamW training step of Hugging Face
T5ForConditionalGeneration on CPU, for exactly the configuration lib/bench/train-step.ts measures.

T5 d_model 256, d_kv 64, 4 heads, d_ff 1024 gated-gelu, 4 + 4 layers, vocab 32128, untied lm_head without
decoder-output scaling, dropout 0.1, batch 8, source 128 and target 64 random token ids (no padding),
torch.optim.AdamW; forward + backward + update. Warm-up steps are excluded; the median of the timed steps is
reported, once per thread count (torch.set_num_threads).

Usage (needs torch and transformers; CI has neither, so the TypeScript bench never requires this):
  python lib/bench/pytorch-train-step.py [--threads 2,1] [--steps 8] [--warmup 2] > pytorch-train-step.json
  ZSD_PYTORCH_TRAIN_STEP=pytorch-train-step.json npm run bench -- train-step

Prints one JSON object: {"bench": "pytorch-train-step", "ms_per_step_by_threads": {"2": ..., "1": ...}, ...}.
"""

import argparse
import datetime
import json
import statistics
import time

import torch
import transformers
from transformers import T5Config, T5ForConditionalGeneration

VOCAB, BATCH, SOURCE, TARGET = 32128, 8, 128, 64


def build_model(seed: int) -> T5ForConditionalGeneration:
    torch.manual_seed(seed)
    # transformers >= 5 reads tie_word_embeddings=False as "do not scale the decoder output" and then ties anyway;
    # the bench wants T5 v1.1's untied head, so a separate lm_head.weight is made below.
    config = T5Config(
        vocab_size=VOCAB,
        d_model=256,
        d_kv=64,
        num_heads=4,
        d_ff=1024,
        feed_forward_proj="gated-gelu",
        num_layers=4,
        num_decoder_layers=4,
        dropout_rate=0.1,
        tie_word_embeddings=False,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    model = T5ForConditionalGeneration(config)
    if model.lm_head.weight is model.shared.weight:
        model.lm_head.weight = torch.nn.Parameter(torch.randn(VOCAB, 256))
    model.config.tie_word_embeddings = False
    assert getattr(model.config, "scale_decoder_outputs", False) is False
    assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr()
    return model


def measure(threads: int, steps: int, warmup: int, seed: int) -> dict:
    torch.set_num_threads(threads)
    model = build_model(seed)
    model.train()
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(2, VOCAB, (BATCH, SOURCE), generator=generator)
    attention_mask = torch.ones(BATCH, SOURCE, dtype=torch.long)
    labels = torch.randint(2, VOCAB, (BATCH, TARGET), generator=generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        elapsed = (time.perf_counter() - start) * 1000
        if step >= warmup:
            times.append(elapsed)
    return {
        "ms_per_step": round(statistics.median(times), 1),
        "ms_min": round(min(times), 1),
        "ms_max": round(max(times), 1),
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="2,1", help="comma-separated torch.set_num_threads values")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    by_threads = {}
    details = {}
    for threads in [int(value) for value in args.threads.split(",")]:
        result = measure(threads, args.steps, args.warmup, args.seed)
        by_threads[str(threads)] = result["ms_per_step"]
        details[str(threads)] = result
    print(
        json.dumps(
            {
                "bench": "pytorch-train-step",
                "ms_per_step_by_threads": by_threads,
                "details": details,
                "steps": args.steps,
                "warmup_steps": args.warmup,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "optimizer": "torch.optim.AdamW",
                "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            }
        )
    )


if __name__ == "__main__":
    main()
