"""Chinese BERT (chinese-roberta-wwm-ext-large, `BertForMaskedLM`'s encoder) and the phone-level
features the reference's `inference_webui.get_bert_feature` computes from it.

Only the encoder matters to GPT-SoVITS: the feature is `hidden_states[-3]` (the output of the
third-to-last layer), so the last two layers are loaded (strictly, the file must have them) and then
dropped (~100 MB at full size), and the masked-LM head `cls.*` is skipped by name. Parameter names equal the Hugging Face keys without `bert.`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .backends import TextTooLongError, WarmUpStage
from .layers import Embedding, LayerNorm, Linear, gelu, to_stored_layout

BERT_FEATURE_DIM = 1024  # what the GPT's bert_proj expects
HIDDEN_STATE_FROM_END = 3  # get_bert_feature takes hidden_states[-3:-2]
_UNUSED_PREFIXES = ("cls.", "bert.pooler.", "bert.embeddings.position_ids")  # MLM head, pooler, a buffer


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> "BertConfig":
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"BERT config: hidden_act {config['hidden_act']!r} is not supported (exact gelu only)")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("BERT config: only absolute position embeddings are supported")
        return cls(**{name: config[name] for name in cls.__dataclass_fields__})


class BertEmbeddings(nn.Cell):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.word_embeddings = Embedding(cfg.vocab_size, cfg.hidden_size)
        self.position_embeddings = Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = LayerNorm(cfg.hidden_size, cfg.layer_norm_eps)

    def construct(self, ids: ms.Tensor, type_ids: ms.Tensor, positions: ms.Tensor) -> ms.Tensor:
        x = self.word_embeddings(ids) + self.token_type_embeddings(type_ids) + self.position_embeddings(positions)
        return self.LayerNorm(x)


class BertSelfAttention(nn.Cell):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.heads = cfg.num_attention_heads
        self.scale = 1.0 / math.sqrt(cfg.hidden_size // self.heads)
        self.query = Linear(cfg.hidden_size, cfg.hidden_size, store_transposed=True)
        self.key = Linear(cfg.hidden_size, cfg.hidden_size, store_transposed=True)
        self.value = Linear(cfg.hidden_size, cfg.hidden_size, store_transposed=True)

    def _heads(self, x: ms.Tensor) -> ms.Tensor:
        batch, length, width = x.shape
        return x.reshape(batch, length, self.heads, width // self.heads).transpose(0, 2, 1, 3)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        # One unpadded sentence: every token attends to every token (HF's all-ones mask adds 0).
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        probs = ops.softmax(ops.matmul(q, k.transpose(0, 1, 3, 2)) * self.scale, -1)
        mixed = ops.matmul(probs, v).transpose(0, 2, 1, 3)
        return mixed.reshape(x.shape)


class BertResidualOutput(nn.Cell):
    """`dense` -> add the block's input -> `LayerNorm` (HF's BertSelfOutput and BertOutput)."""

    def __init__(self, in_features: int, cfg: BertConfig):
        super().__init__()
        self.dense = Linear(in_features, cfg.hidden_size, store_transposed=True)
        self.LayerNorm = LayerNorm(cfg.hidden_size, cfg.layer_norm_eps)

    def construct(self, x: ms.Tensor, residual: ms.Tensor) -> ms.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Cell):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertResidualOutput(cfg.hidden_size, cfg)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.output(self.self(x), x)


class BertIntermediate(nn.Cell):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = Linear(cfg.hidden_size, cfg.intermediate_size, store_transposed=True)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return gelu(self.dense(x))  # BERT's "gelu" is the exact erf form


class BertLayer(nn.Cell):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertResidualOutput(cfg.intermediate_size, cfg)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        x = self.attention(x)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Cell):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.layer = nn.CellList([BertLayer(cfg) for _ in range(cfg.num_hidden_layers)])


class BertModel(nn.Cell):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)

    def hidden_state(self, ids: ms.Tensor, type_ids: ms.Tensor, index: int) -> ms.Tensor:
        """`hidden_states[index]` of Hugging Face (0 = embeddings, i = output of layer i - 1): through the
        compiled graph once `compile` has built it (and `runtime.compiled_bert()` allows), else op by op."""
        position = self._layers_for(index)
        graph = self.__dict__.get("_graphs", {}).get(position)
        from GPT_SoVITS.runtime import compiled_bert

        if graph is not None and compiled_bert():
            return graph(*graph_inputs(ids, type_ids))
        length = ids.shape[1]
        positions = ms.Tensor(np.arange(length, dtype=np.int64)[None])
        x = self.embeddings(ids, type_ids, positions)
        for layer in list(self.encoder.layer)[:position]:
            x = layer(x)
        return x

    def layers_for(self, index: int) -> int:
        """How many layers `hidden_state(..., index)` runs (a negative index counts from the end)."""
        return self._layers_for(index)

    def compile(self, index: int) -> None:
        """Build and compile the graph serving `hidden_state(..., index)` for every length (one
        compilation of seconds at full size: the service does it in its background warm-up)."""
        position = self._layers_for(index)
        graphs = self.__dict__.setdefault("_graphs", {})  # plain dict: not a cell attribute
        if position not in graphs:
            graph = CompiledBert(self, position)
            ids = ms.Tensor(np.full((1, 4), self.cfg.vocab_size - 1, np.int64))  # any in-vocabulary id
            graph(*graph_inputs(ids, ms.Tensor(np.zeros((1, 4), np.int64)))).asnumpy()
            graphs[position] = graph

    def keep_layers(self, count: int) -> None:
        """Drop the layers after the first `count` (a `hidden_state` never runs them): their memory goes."""
        self.encoder.layer = nn.CellList(list(self.encoder.layer)[:count])

    def _layers_for(self, index: int) -> int:
        count = len(self.encoder.layer) + 1
        position = index + count if index < 0 else index
        if not 0 <= position < count:
            raise IndexError(f"hidden state {index} does not exist with {count - 1} layers")
        return position


def graph_inputs(ids: ms.Tensor, type_ids: ms.Tensor) -> tuple[ms.Tensor, ...]:
    """What `CompiledBert` takes: ids, type ids and positions."""
    return ids, type_ids, ms.Tensor(np.arange(ids.shape[1], dtype=np.int64)[None])


class CompiledBert(nn.Cell):
    """The first `layers` layers as one compiled graph (`mindspore.jit`) whose token axis is dynamic:
    compiled once, it serves every length without padding. Op by op, 22 layers launch ~500 kernels
    from Python and re-plan every matrix product; compiled they run from one graph, faster on the CPU
    (the same arithmetic: equal to op by op)."""

    def __init__(self, model: BertModel, layers: int):
        super().__init__(auto_prefix=False)  # shares the model's cells and parameter names
        self.embeddings = model.embeddings
        self.layers = nn.CellList(list(model.encoder.layer)[:layers])
        tokens = ms.Tensor(shape=[1, None], dtype=ms.int64)
        self.set_inputs(tokens, tokens, tokens)

    @ms.jit
    def construct(self, ids: ms.Tensor, type_ids: ms.Tensor, positions: ms.Tensor) -> ms.Tensor:
        x = self.embeddings(ids, type_ids, positions)
        for layer in self.layers:
            x = layer(x)
        return x


def encoder_state(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`BertForMaskedLM` keys -> this model's names: drop the unused heads, strip `bert.`, and rename
    the TF-era `LayerNorm.gamma`/`beta` to `weight`/`bias` as `from_pretrained` does."""
    kept = {}
    for key, value in state.items():
        if key.startswith(_UNUSED_PREFIXES):
            continue
        key = key.removeprefix("bert.")
        if key.endswith((".gamma", ".beta")):
            key = key.rsplit(".", 1)[0] + (".weight" if key.endswith(".gamma") else ".bias")
        kept[key] = value
    return kept


class ChineseBert:
    """Tokenizer + encoder of a Hugging Face BERT folder (`config.json`, `tokenizer.json`, weights): the
    text-feature back end (`models.backends.TextFeatureModel`)."""

    def __init__(self, folder: str | Path):
        from tokenizers import Tokenizer

        from GPT_SoVITS.weights import load_hf_folder, load_into

        folder = Path(folder)
        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.exists():
            raise FileNotFoundError(f"{tokenizer_file} is missing: the BERT folder needs its fast-tokenizer file")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # transformers calls the fast tokenizer without truncation or padding, whatever the file says.
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        loaded = load_hf_folder(folder)
        self.config = BertConfig.from_dict(loaded.config)
        self.model = BertModel(self.config)
        state = encoder_state(loaded.state)
        del loaded  # `state` holds the file's arrays alone: each goes once its transposed copy is made
        load_into(self.model, to_stored_layout(self.model, state, consume=True), source=str(folder))
        self.model.set_train(False)
        # Counted from the end of the file's layers, then only those layers are kept.
        self.feature_layers = self.model.layers_for(-HIDDEN_STATE_FROM_END)
        self.model.keep_layers(self.feature_layers)

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """`tokenizer(text)`: token ids and token-type ids, with [CLS] ... [SEP]."""
        encoding = self.tokenizer.encode(text)
        return np.asarray(encoding.ids, np.int64), np.asarray(encoding.type_ids, np.int64)

    @property
    def max_tokens(self) -> int:
        """The most tokens one text may have, [CLS] and [SEP] included: the model's position table."""
        return self.config.max_position_embeddings

    def token_count(self, text: str) -> int:
        """How many positions `text` takes ([CLS] and [SEP] included)."""
        return len(self.tokenizer.encode(text).ids)

    def token_features(self, text: str) -> np.ndarray:
        """`hidden_states[-3]` without [CLS]/[SEP]: [n_tokens - 2, hidden]."""
        ids, type_ids = self.encode(text)
        if ids.size > self.max_tokens:
            raise TextTooLongError(int(ids.size), self.max_tokens)
        hidden = self.model.hidden_state(ms.Tensor(ids[None]), ms.Tensor(type_ids[None]), self.feature_layers)
        return hidden.asnumpy()[0, 1:-1]

    def phone_features(self, norm_text: str, word2ph: list[int]) -> np.ndarray:
        """`get_bert_feature`: one row per character repeated `word2ph[i]` times -> [hidden, sum(word2ph)]."""
        if len(word2ph) != len(norm_text):
            raise ValueError(f"word2ph has {len(word2ph)} entries for {len(norm_text)} characters")
        rows = self.token_features(norm_text)
        if rows.shape[0] < len(word2ph):
            raise ValueError(f"the tokenizer gave {rows.shape[0]} tokens for {len(word2ph)} characters")
        return np.repeat(rows[: len(word2ph)], np.asarray(word2ph, dtype=np.int64), axis=0).T.copy()

    def reads(self, language: str) -> bool:
        return reads_bert(language)

    def features(self, language: str, norm_text: str, word2ph: list[int] | None, n_phones: int) -> np.ndarray:
        return bert_features(self, language, norm_text, word2ph, n_phones)

    def warm_up_stages(self, *, background: bool) -> list[WarmUpStage]:
        """The encoder's graph (one for every length), in the background: it runs op by op until then."""
        return [("bert.compile", self._compile)] if background else []

    def _compile(self) -> None:
        from GPT_SoVITS.runtime import compiled_bert

        if compiled_bert():
            self.model.compile(self.feature_layers)


def reads_bert(language: str) -> bool:
    """Whether text of this language gets BERT features (Chinese) rather than zeros."""
    return language.replace("all_", "") == "zh"


def bert_features(bert: ChineseBert | None, language: str, norm_text: str, word2ph: list[int] | None,
                  n_phones: int) -> np.ndarray:
    """`get_bert_inf`: BERT features for Chinese text, zeros [1024, n_phones] for every other language."""
    if reads_bert(language):
        if bert is None or word2ph is None:
            raise ValueError("Chinese text needs the BERT model and word2ph")
        return bert.phone_features(norm_text, word2ph)
    return np.zeros((BERT_FEATURE_DIM, n_phones), dtype=np.float32)
