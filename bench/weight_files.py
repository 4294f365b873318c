"""Full-size random weights written as the files the service reads, for benchmarking it over HTTP.

GPT and SoVITS go through the port's MindSpore-checkpoint writer (`write_mindspore_checkpoint`), the
two Hugging Face folders as `config.json` + `model.safetensors` (the BERT tokenizer is the golden
one). Random GPT weights never emit EOS, so the GPT's `max_sec` is set to what a ~10-character
segment lasts: the service's early stop then ends each segment at a realistic length.
"""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from . import configs, random_models

SEGMENT_SECONDS = 1.2  # early stop = 50 x max_sec = 60 tokens (2.4 s of audio), ~10 Chinese characters


def _state(cell) -> dict:
    from GPT_SoVITS.models.layers import to_torch_layout

    return to_torch_layout(cell, {name: param.asnumpy() for name, param in cell.parameters_and_names()})


def _hf_folder(folder: Path, config: dict, state: dict, extra_files: tuple[Path, ...] = ()) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    save_file(state, str(folder / "model.safetensors"))
    for path in extra_files:
        shutil.copy(path, folder / path.name)
    return folder


def write_random_weights(folder: Path, tokenizer_file: Path) -> list[str]:
    """Write the four weight locations under `folder`; returns the api_ms.py flags that point at them."""
    from GPT_SoVITS.weights.mindspore_ckpt import MODEL_VERSION_KEY, write_mindspore_checkpoint

    gpt_config = copy.deepcopy(configs.GPT)
    gpt_config["data"]["max_sec"] = SEGMENT_SECONDS
    gpt = write_mindspore_checkpoint(folder / "gpt.ckpt", "gpt", _state(random_models.gpt().model), gpt_config)
    sovits = write_mindspore_checkpoint(folder / "sovits.ckpt", "sovits", _state(random_models.sovits().model),
                                        configs.SOVITS, extra={MODEL_VERSION_KEY: "v2"})
    hubert = _hf_folder(folder / "hubert", configs.HUBERT, _state(random_models.hubert()))
    bert_state = _state(random_models.bert(None, all_layers=True).model)  # the file has every layer
    bert = _hf_folder(folder / "bert", configs.BERT, bert_state, (tokenizer_file,))
    return ["--gpt-path", str(gpt), "--sovits-path", str(sovits), "--cnhubert-base-path", str(hubert),
            "--bert-path", str(bert)]


def write_in_child_process(folder: Path, tokenizer_file: Path) -> list[str]:
    """`write_random_weights` in a child process, so that this process never starts MindSpore: its
    runtime threads would otherwise compete with the server being measured (the load measured ~50%
    slower with them)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "bench.weight_files", str(folder), str(tokenizer_file)],
                          cwd=repo, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    import sys

    from GPT_SoVITS import runtime

    runtime.configure("CPU")
    print(json.dumps(write_random_weights(Path(sys.argv[1]), Path(sys.argv[2]))))
