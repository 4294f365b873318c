"""The reference's GPT prefill speed: RVC-Boss/GPT-SoVITS `Text2SemanticDecoder` step 0 with PyTorch on the CPU.

    REF_DIR=/work/ref /work/torch-venv/bin/python tools/reference_bench/gpt_prefill.py [--repeats 5]

Full-size model from the reference's configs/s1longer-v2.yaml (24 layers, 512 wide, 16 heads, 732
phoneme symbols), random weights N(0, 0.02) like bench/random_models.py, and the inputs of
`python -m bench.run --only gpt`: 120 phonemes with their BERT features and a 125-code prompt (245
positions). Times what `infer_panel_naive` does before its first sample: the embeddings, the mask,
`t2s_transformer.process_prompt` over all positions and the last position's logits. Prints, as
bench/run.py does:

    reference.gpt.prefill: <best of --repeats> ms (245 positions)
    reference.gpt.prefill.per_position: <that / 245> ms

Needs torch, numpy, pyyaml, tqdm; torchmetrics (a training metric the prefill never calls) is stubbed.
Development tool: the product and its tests never import torch.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import types
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

PHONES, PROMPT, SEED, WEIGHT_STD = 120, 125, 0, 0.02


def import_reference(ref_dir: Path):
    sys.path[:0] = [str(ref_dir), str(ref_dir / "GPT_SoVITS")]
    metrics = types.ModuleType("torchmetrics.classification")
    metrics.MulticlassAccuracy = lambda *args, **kwargs: torch.nn.Identity()
    sys.modules.setdefault("torchmetrics", types.ModuleType("torchmetrics"))
    sys.modules["torchmetrics.classification"] = metrics
    from AR.models.t2s_model import Text2SemanticDecoder  # noqa: E402

    return Text2SemanticDecoder


def build(ref_dir: Path) -> torch.nn.Module:
    decoder_class = import_reference(ref_dir)
    config = yaml.safe_load((ref_dir / "GPT_SoVITS/configs/s1longer-v2.yaml").read_text())
    config["model"]["phoneme_vocab_size"] = 732  # v2's symbol table, as bench/random_models.py
    torch.manual_seed(SEED)
    with torch.no_grad():
        model = decoder_class(config, top_k=15)
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.normal_(0.0, WEIGHT_STD)
        # T2SBlock holds references to the layers' tensors, so the randomised values are the ones it uses.
    return model.eval()


def prefill(model, x, bert, prompt) -> torch.Tensor:
    """`infer_panel_naive` up to the first step's logits (its code, without the loop and sampling)."""
    x = model.ar_text_position(model.ar_text_embedding(x) + model.bert_proj(bert.transpose(1, 2)))
    y_pos = model.ar_audio_position(model.ar_audio_embedding(prompt))
    xy_pos = torch.concat([x, y_pos], dim=1)
    x_len, y_len = x.shape[1], y_pos.shape[1]
    x_mask = F.pad(torch.zeros((x_len, x_len), dtype=torch.bool), (0, y_len), value=True)
    y_mask = F.pad(torch.triu(torch.ones(y_len, y_len, dtype=torch.bool), diagonal=1), (x_len, 0), value=False)
    mask = torch.concat([x_mask, y_mask], dim=0).unsqueeze(0).expand(model.num_head, -1, -1)
    mask = mask.view(1, model.num_head, x_len + y_len, x_len + y_len)
    xy_dec, _, _ = model.t2s_transformer.process_prompt(xy_pos, mask, None)
    return model.ar_predict_layer(xy_dec[:, -1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ref_dir = Path(os.environ.get("REF_DIR", "GPT-SoVITS"))
    model = build(ref_dir)
    gen = torch.Generator().manual_seed(SEED)
    x = torch.randint(0, 732, (1, PHONES), generator=gen)
    bert = torch.randn(1, 1024, PHONES, generator=gen)
    prompt = torch.randint(0, 1024, (1, PROMPT), generator=gen)
    seconds = []
    with torch.no_grad():
        prefill(model, x, bert, prompt)  # warm-up
        for _ in range(args.repeats):
            start = time.perf_counter()
            prefill(model, x, bert, prompt)
            seconds.append(time.perf_counter() - start)
    best, positions = min(seconds) * 1e3, PHONES + PROMPT
    print(f"reference.gpt.prefill: {best:.1f} ms ({positions} positions)")
    print(f"reference.gpt.prefill.per_position: {best / positions:.2f} ms")


if __name__ == "__main__":
    main()
