"""An LSTM encoder-decoder without attention, as a Hugging Face model: the sentence autoencoder of the
similarity-based reconstruction loss poster.

The encoder reads the source with an LSTM and keeps one vector per sentence, ``z``: the top layer's
state at the sentence's last token. The decoder is an LSTM that starts from ``z`` (hidden state
``h_0 = z`` on every layer, cell state 0) and reads ``z`` again at every step, concatenated to the
previous token's embedding; a linear layer maps its states to the target vocabulary. There is no
attention, so everything the decoder knows about the source passes through ``z``: the bottleneck that
makes ``z`` a sentence representation (:meth:`LSTMSeq2SeqModel.encode_sentences` returns it for
probing). The poster uses LSTMs of 256 units on both sides.

The model speaks the Hugging Face encoder-decoder interface the rest of :mod:`textsmooth.seq2seq` uses:
``get_encoder()`` returns a module whose output is a ``BaseModelOutput`` (the per-token states, ``z``
is read from them with the attention mask), ``forward(encoder_outputs=..., decoder_input_ids=...)``
returns ``logits``, ``prepare_decoder_input_ids_from_labels`` shifts labels right, and
``generate`` (greedy or beam search) comes from ``transformers.GenerationMixin``; the decoder's cache is
its LSTM state, so each generation step reads one token (beam search reorders the state).
``save_pretrained`` / ``from_pretrained`` work; importing this module registers the model type
``textsmooth-lstm`` with ``AutoConfig`` and ``AutoModelForSeq2SeqLM``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from transformers import AutoConfig, AutoModelForSeq2SeqLM, GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import ModelOutput

if TYPE_CHECKING:  # pragma: no cover
    from textsmooth.seq2seq.vocab import SubwordVocab

__all__ = [
    "LSTMSeq2SeqConfig",
    "LSTMSeq2SeqModel",
    "LSTMSeq2SeqOutput",
    "build_lstm_model",
    "sentence_vectors",
]

MODEL_TYPE = "textsmooth-lstm"


class LSTMSeq2SeqConfig(PretrainedConfig):
    """Shape of an :class:`LSTMSeq2SeqModel`.

    Args:
        vocab_size: source vocabulary; ``decoder_vocab_size``: target vocabulary (default the same).
        hidden_size: LSTM units on both sides (``z`` has this size). embedding_size: token embeddings.
        num_layers: LSTM layers per side. dropout: on embeddings and decoder outputs (and between layers).
    """

    model_type = MODEL_TYPE

    def __init__(
        self,
        vocab_size: int = 8000,
        decoder_vocab_size: int | None = None,
        hidden_size: int = 256,
        embedding_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.1,
        pad_token_id: int = 0,
        eos_token_id: int = 1,
        decoder_start_token_id: int = 0,
        is_encoder_decoder: bool = True,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.decoder_vocab_size = decoder_vocab_size or vocab_size
        self.hidden_size = hidden_size
        self.embedding_size = embedding_size
        self.num_layers = num_layers
        self.dropout = dropout
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(
            pad_token_id=pad_token_id,
            eos_token_id=eos_token_id,
            decoder_start_token_id=decoder_start_token_id,
            is_encoder_decoder=is_encoder_decoder,
            **kwargs,
        )


def sentence_vectors(hidden: Tensor, attention_mask: Tensor | None) -> Tensor:
    """``z``: each row's state at its last real token, ``(N, H)`` from ``(N, S, H)`` (right padding)."""
    if attention_mask is None:
        return hidden[:, -1]
    last = attention_mask.long().sum(dim=1).clamp(min=1) - 1
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


class _Encoder(nn.Module):
    main_input_name = "input_ids"

    def __init__(self, config: LSTMSeq2SeqConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=config.pad_token_id)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embedding_size,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )

    def forward(
        self, input_ids: Tensor, attention_mask: Tensor | None = None, **kwargs: Any
    ) -> BaseModelOutput:
        """Per-token top-layer states ``(N, S, H)``; padding positions hold zeros."""
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        emb = self.dropout(self.embed(input_ids))
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        lengths = attention_mask.long().sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        hidden, _ = pad_packed_sequence(out, batch_first=True, total_length=input_ids.shape[1])
        return BaseModelOutput(last_hidden_state=hidden)


class _Decoder(nn.Module):
    def __init__(self, config: LSTMSeq2SeqConfig) -> None:
        super().__init__()
        self.num_layers = config.num_layers
        self.embed = nn.Embedding(
            config.decoder_vocab_size, config.embedding_size, padding_idx=config.pad_token_id
        )
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embedding_size + config.hidden_size,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.output = nn.Linear(config.hidden_size, config.decoder_vocab_size)

    def forward(
        self, decoder_input_ids: Tensor, z: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Logits ``(N, T, V)`` of the next token after each input token, given ``z`` ``(N, H)``, and the
        LSTM state after the last one. ``state``: continue from it (generation), else start from ``z``."""
        emb = self.dropout(self.embed(decoder_input_ids))
        steps = emb.shape[1]
        x = torch.cat([emb, z.unsqueeze(1).expand(-1, steps, -1)], dim=-1)
        if state is None:
            h0 = z.unsqueeze(0).expand(self.num_layers, -1, -1).contiguous()
            state = (h0, torch.zeros_like(h0))
        out, state = self.lstm(x, state)
        return self.output(self.dropout(out)), state


@dataclass
class LSTMSeq2SeqOutput(ModelOutput):
    """``logits`` ``(N, T, V)``; ``loss`` with labels; ``cache``: the decoder's LSTM state ``(h, c)``, each
    ``(layers, N, H)``, when ``use_cache``; ``encoder_last_hidden_state`` ``(N, S, H)``."""

    loss: Tensor | None = None
    logits: Tensor | None = None
    cache: tuple[Tensor, Tensor] | None = None
    encoder_last_hidden_state: Tensor | None = None


class LSTMSeq2SeqModel(PreTrainedModel, GenerationMixin):
    """LSTM encoder-decoder with a sentence-vector bottleneck (module docstring)."""

    config_class = LSTMSeq2SeqConfig
    base_model_prefix = "lstm"
    main_input_name = "input_ids"

    def __init__(self, config: LSTMSeq2SeqConfig) -> None:
        super().__init__(config)
        self.encoder = _Encoder(config)
        self.decoder = _Decoder(config)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Keep PyTorch's own initialisation of every layer (seeded by the caller)."""

    def get_encoder(self) -> nn.Module:
        return self.encoder

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.embed

    def get_output_embeddings(self) -> nn.Module:
        return self.decoder.output

    def prepare_decoder_input_ids_from_labels(self, labels: Tensor) -> Tensor:
        """Labels shifted one to the right behind the start token; ``-100`` becomes padding."""
        start = torch.full_like(labels[:, :1], self.config.decoder_start_token_id)
        shifted = torch.cat([start, labels[:, :-1]], dim=1)
        return shifted.masked_fill(shifted == -100, self.config.pad_token_id)

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        decoder_input_ids: Tensor | None = None,
        encoder_outputs: Any = None,
        labels: Tensor | None = None,
        cache: tuple[Tensor, Tensor] | None = None,
        use_cache: bool | None = None,
        **kwargs: Any,
    ) -> LSTMSeq2SeqOutput:
        """Teacher-forced logits (and the mean token cross-entropy when ``labels`` are given).

        ``cache``: the decoder state after the tokens before ``decoder_input_ids`` (generation feeds one
        token a step); ``use_cache``: return the state after them.
        """
        if encoder_outputs is None:
            if input_ids is None:
                raise ValueError("pass input_ids or encoder_outputs")
            encoder_outputs = self.encoder(input_ids, attention_mask)
        hidden = (
            encoder_outputs[0] if isinstance(encoder_outputs, tuple) else encoder_outputs.last_hidden_state
        )
        if decoder_input_ids is None:
            if labels is None:
                raise ValueError("pass decoder_input_ids or labels")
            decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        logits, state = self.decoder(decoder_input_ids, sentence_vectors(hidden, attention_mask), cache)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return LSTMSeq2SeqOutput(
            loss=loss, logits=logits, cache=state if use_cache else None, encoder_last_hidden_state=hidden
        )

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        """The decoder's cache is its LSTM state, returned by ``forward``; no attention cache."""
        return False

    def _reorder_cache(self, cache: tuple[Tensor, Tensor], beam_idx: Tensor) -> tuple[Tensor, Tensor]:
        """Beam search: the state of the beams kept."""
        return (cache[0].index_select(1, beam_idx), cache[1].index_select(1, beam_idx))

    @torch.no_grad()
    def encode_sentences(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """``z`` of each source: ``(N, hidden_size)``, the representation the decoder starts from."""
        hidden = self.encoder(input_ids, attention_mask).last_hidden_state
        return sentence_vectors(hidden, attention_mask)


AutoConfig.register(MODEL_TYPE, LSTMSeq2SeqConfig, exist_ok=True)
AutoModelForSeq2SeqLM.register(LSTMSeq2SeqConfig, LSTMSeq2SeqModel, exist_ok=True)


def build_lstm_model(
    vocab: SubwordVocab,
    *,
    hidden_size: int = 256,
    embedding_size: int = 256,
    num_layers: int = 1,
    dropout: float = 0.1,
    seed: int = 0,
) -> LSTMSeq2SeqModel:
    """A randomly initialised :class:`LSTMSeq2SeqModel` for ``vocab`` (the same seed, the same weights)."""
    config = LSTMSeq2SeqConfig(
        vocab_size=vocab.source_vocab_size,
        decoder_vocab_size=vocab.target_vocab_size,
        hidden_size=hidden_size,
        embedding_size=embedding_size,
        num_layers=num_layers,
        dropout=dropout,
        pad_token_id=vocab.pad_id,
        eos_token_id=vocab.eos_id,
        decoder_start_token_id=vocab.pad_id,
    )
    with torch.random.fork_rng(devices=[]):  # initialisation does not move the caller's random stream
        torch.manual_seed(seed)
        model = LSTMSeq2SeqModel(config)
    model.generation_config.bad_words_ids = [[vocab.pad_id]]
    return model
