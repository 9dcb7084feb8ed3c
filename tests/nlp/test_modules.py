"""ganglion-nlp's modules: shapes and typed ports, padding masked out, heads, tied weights,
registration and config errors."""

from __future__ import annotations

import pytest
import torch

from ganglion.errors import ConfigError
from ganglion.module import NeuralModule
from ganglion.types import NeuralTypeError
from ganglion_nlp.modules import (
    MaskedLMHead,
    SequenceClassificationHead,
    TokenClassificationHead,
    TokenEmbedding,
    TransformerEncoder,
)


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 50, (3, 9), generator=gen)
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[1, 6:] = False
    mask[2, 4:] = False
    ids[~mask] = 0
    return ids, mask


@pytest.fixture
def stack():
    torch.manual_seed(0)
    embedding = TokenEmbedding(vocab_size=50, d_model=32, max_positions=16, dropout=0.0)
    encoder = TransformerEncoder(
        d_model=32, num_layers=2, num_heads=4, ff_dim=64, dropout=0.0, attention_dropout=0.0
    )
    return embedding.eval(), encoder.eval()


def test_shapes_and_output_types(stack):
    embedding, encoder = stack
    ids, mask = _inputs()
    emb = embedding(input_ids=ids)
    hidden = encoder(embeddings=emb, attention_mask=mask)
    assert emb.shape == hidden.shape == (3, 9, 32)
    assert str(emb.neural_type) == "B,T,D:EmbeddedTextType"
    assert str(hidden.neural_type) == "B,T,D:EncodedRepresentation"
    head = SequenceClassificationHead(d_model=32, num_classes=5)
    logits = head(hidden_states=hidden, attention_mask=mask)
    assert logits.shape == (3, 5) and str(logits.neural_type) == "B,D:LogitsType"
    tags = TokenClassificationHead(d_model=32, num_classes=7)(hidden_states=hidden)
    assert tags.shape == (3, 9, 7)


def test_padding_does_not_change_a_rows_result(stack):
    embedding, encoder = stack
    ids, mask = _inputs()
    batched = encoder(embeddings=embedding(input_ids=ids), attention_mask=mask)
    alone = encoder(embeddings=embedding(input_ids=ids[2:, :4]), attention_mask=mask[2:, :4])
    torch.testing.assert_close(batched[2, :4], alone[0], atol=1e-5, rtol=1e-5)
    # different junk in the padded positions changes nothing at the real ones
    junk = ids.clone()
    junk[~mask] = 17
    again = encoder(embeddings=embedding(input_ids=junk), attention_mask=mask)
    torch.testing.assert_close(again[mask], batched[mask], atol=1e-5, rtol=1e-5)


def test_pooling_ignores_padding(stack):
    embedding, encoder = stack
    ids, mask = _inputs()
    hidden = encoder(embeddings=embedding(input_ids=ids), attention_mask=mask)
    mean = SequenceClassificationHead(32, 4, pooling="mean", dropout=0.0, pooler=True).eval()
    logits = mean(hidden_states=hidden, attention_mask=mask)
    expected = mean.classifier(torch.tanh(mean.pooler(hidden[2, :4].mean(dim=0))))
    torch.testing.assert_close(logits[2], expected)
    cls = SequenceClassificationHead(32, 4, pooling="cls", dropout=0.0).eval()
    torch.testing.assert_close(cls(hidden_states=hidden)[1], cls.classifier(hidden[1, 0]))


def test_post_norm_layout_and_pad_embedding():
    encoder = TransformerEncoder(d_model=16, num_layers=1, num_heads=2, pre_norm=False)
    assert encoder.final_norm is None
    out = encoder(embeddings=torch.randn(2, 5, 16))
    assert out.shape == (2, 5, 16)
    embedding = TokenEmbedding(vocab_size=10, d_model=8, pad_id=0)
    assert torch.count_nonzero(embedding.token_embedding.weight[0]) == 0


def test_masked_lm_head_is_tied_to_the_embeddings():
    embedding = TokenEmbedding(vocab_size=30, d_model=16)
    head = MaskedLMHead(d_model=16, vocab_size=30)
    head.tie_to(embedding.token_embedding)
    assert head.decoder.weight is embedding.token_embedding.weight
    logits = head(hidden_states=torch.randn(2, 4, 16))
    assert logits.shape == (2, 4, 30)
    logits.sum().backward()
    assert embedding.token_embedding.weight.grad is not None
    with pytest.raises(ConfigError, match=r"cannot tie a \[31, 16\] output layer"):
        MaskedLMHead(d_model=16, vocab_size=31).tie_to(embedding.token_embedding)


def test_typed_ports_refuse_wrong_inputs(stack):
    embedding, encoder = stack
    with pytest.raises(NeuralTypeError, match="input_ids"):
        embedding(input_ids=torch.zeros(2, 3, 4, dtype=torch.long))
    with pytest.raises(NeuralTypeError, match="embeddings"):
        encoder(embeddings=torch.randn(2, 32))
    with pytest.raises(ValueError, match="17 positions, more than max_positions 16"):
        embedding(input_ids=torch.zeros(1, 17, dtype=torch.long))


def test_config_errors():
    with pytest.raises(ConfigError, match="num_heads 3 does not divide d_model 32"):
        TransformerEncoder(d_model=32, num_heads=3)
    with pytest.raises(ConfigError, match="activation 'tanh'; known: gelu, relu, silu"):
        TransformerEncoder(d_model=32, activation="tanh")
    with pytest.raises(ConfigError, match="TokenEmbedding.vocab_size: expected a positive integer"):
        TokenEmbedding(vocab_size=0, d_model=8)
    with pytest.raises(ConfigError, match="pooling 'max'; known: cls, mean"):
        SequenceClassificationHead(8, 2, pooling="max")


def test_modules_are_registered_and_built_from_configs(ganglion_plugins):
    registry = ganglion_plugins.registry("modules")
    for name in (
        "TokenEmbedding",
        "TransformerEncoder",
        "SequenceClassificationHead",
        "TokenClassificationHead",
        "MaskedLMHead",
    ):
        assert registry.get(name).provider.distribution == "ganglion-nlp"
    encoder = NeuralModule.from_config_dict(
        {"_target_": "TransformerEncoder", "d_model": 16, "num_heads": 2}
    )
    assert isinstance(encoder, TransformerEncoder) and len(encoder.layers) == 4
    clone = NeuralModule.from_config_dict(encoder.to_config_dict())
    assert clone.state_dict().keys() == encoder.state_dict().keys()
