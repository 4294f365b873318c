"""Full-size model configurations for the benchmark, as our own dicts.

Values are those of the released models: the GPT from the reference's `configs/s1longer-v2.yaml`,
SoVITS from `configs/s2.json` (v2: 732 symbols), HuBERT from chinese-hubert-base's `config.json`, BERT
from chinese-roberta-wwm-ext-large's `config.json`. Weights are random; only the shapes matter here.
"""
from __future__ import annotations

GPT = {
    "model": {"vocab_size": 1025, "phoneme_vocab_size": 732, "embedding_dim": 512, "hidden_dim": 512,
              "head": 16, "linear_units": 2048, "n_layer": 24, "dropout": 0, "EOS": 1024},
    "data": {"max_sec": 54},
}

SOVITS_SYMBOLS = 732  # v2 phone table: rows of enc_p.text_embedding
SOVITS = {
    "data": {"max_wav_value": 32768.0, "sampling_rate": 32000, "filter_length": 2048, "hop_length": 640,
             "win_length": 2048, "n_mel_channels": 128, "mel_fmin": 0.0, "mel_fmax": None, "add_blank": True,
             "n_speakers": 300, "cleaned_text": True},
    "model": {"inter_channels": 192, "hidden_channels": 192, "filter_channels": 768, "n_heads": 2,
              "n_layers": 6, "kernel_size": 3, "p_dropout": 0.1, "resblock": "1",
              "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
              "upsample_rates": [10, 8, 2, 2, 2], "upsample_initial_channel": 512,
              "upsample_kernel_sizes": [16, 16, 8, 2, 2], "n_layers_q": 3, "use_spectral_norm": False,
              "gin_channels": 512, "semantic_frame_rate": "25hz", "freeze_quantizer": True},
}

HUBERT = {
    "conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": False, "feat_extract_norm": "group", "do_stable_layer_norm": False, "hidden_act": "gelu",
    "feat_extract_activation": "gelu", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16,
    "layer_norm_eps": 1e-5, "feat_proj_layer_norm": True,
}

BERT = {
    "vocab_size": 21128, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
    "intermediate_size": 4096, "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
    "hidden_act": "gelu", "position_embedding_type": "absolute",
}
