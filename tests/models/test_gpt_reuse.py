"""One loaded GPT decodes many utterances: nothing of one decode may leak into the next.

The compiled step keeps its key/value buffers between calls; each decode must start from its own
prefill. The e2e golden's GPT is run on every case of its own folder's golden first (other lengths,
with and without a prompt, and larger cache buckets), then on the e2e inputs, whose tokens must still equal the reference's.
"""
from __future__ import annotations

import posixpath

import numpy as np
from golden_data import model_file, model_meta

from GPT_SoVITS.models.gpt import SamplingOptions, load_gpt


def test_decodes_on_one_model_do_not_leak_into_each_other():
    meta, golden = model_meta("e2e"), np.load(model_file("e2e/golden.npz"))
    gpt_path = posixpath.normpath(posixpath.join("e2e", meta["models"]["gpt"]))
    folder = posixpath.dirname(gpt_path)
    gpt = load_gpt(model_file(gpt_path))
    inputs, folder_meta = np.load(model_file(f"{folder}/inputs.npz")), model_meta(folder)
    kwargs = meta["infer_panel_kwargs"]
    greedy = SamplingOptions(top_k=kwargs["top_k"], top_p=kwargs["top_p"], temperature=kwargs["temperature"])
    bert = np.concatenate([golden["prompt_bert"], golden["target_bert"]], axis=1)

    def e2e_tokens() -> np.ndarray:
        return gpt.generate(golden["all_phoneme_ids"], golden["prompt_codes"], bert, greedy,
                            early_stop_num=kwargs["early_stop_num"], seed=0).tokens

    for case, args in folder_meta["cases"].items():  # decodes of other lengths and cache sizes first
        for early_stop_num in (args["early_stop_num"], 2 * args["early_stop_num"]):
            gpt.generate(inputs["all_phoneme_ids"], None if args["ref_free"] else inputs["prompt_semantic"],
                         inputs["bert"], greedy, early_stop_num=early_stop_num, seed=0)
            np.testing.assert_array_equal(e2e_tokens(), golden["y_full"],
                                          err_msg=f"after case {case}, early_stop_num {early_stop_num}")
