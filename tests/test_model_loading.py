"""A user's model folders: safe loading, cache keys that follow the config, sentence-transformers
pooling as the folder says, and image models from transformers (a small random ViT)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel, ConvNextConfig, ConvNextModel, ViTConfig, ViTModel

from transferlab.data.task import TaskData, fingerprint_of
from transferlab.errors import InputError
from transferlab.sources import create_source
from transferlab.sources.cache import EmbeddingCache
from transferlab.sources.hf_vision import HFImageSource
from transferlab.sources.zoo_text import minilm_l6_path
from transferlab.strategies import Examples, create_strategy

TEXTS = ["the cat sat on the mat", "stocks fell sharply on monday", "a short one", "the match ended in a draw"]
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def tiny_bert(folder: Path, safe: bool = True, layers: int = 2) -> Path:
    """A 2-layer BERT with random weights and minilm-l6's real tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(minilm_l6_path() / name, folder / name)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=64
    )
    model = BertModel(config)
    if safe:
        model.save_pretrained(folder)
    else:  # transformers 5 writes safetensors only: a plain torch file the way older versions wrote it
        config.save_pretrained(folder)
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def tiny_vision(folder: Path, kind: str = "vit") -> Path:
    """A small randomly initialised ViT (or ConvNeXt) with a PIL image processor, built from a config."""
    from transformers import ViTImageProcessorPil

    torch.manual_seed(0)
    if kind == "vit":
        config = ViTConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=32,
            patch_size=8,
        )
        model = ViTModel(config)
    else:
        model = ConvNextModel(ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2, image_size=32))
    model.save_pretrained(folder)
    ViTImageProcessorPil(size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(
        folder
    )
    return folder


class Payload:
    """Unpickling this creates a file: the stand-in for code a malicious checkpoint would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


# ---------------------------------------------------------------- safety


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    folder = tmp_path / "evil"
    tiny_bert(folder, safe=False)
    marker = tmp_path / "code-ran"
    torch.save({"embeddings.word_embeddings.weight": Payload(marker)}, folder / "pytorch_model.bin")
    with pytest.raises(InputError, match=r"refused to load pytorch_model\.bin: not a plain tensor file.*safetensors"):
        create_source(f"hf:{folder}")
    assert not marker.exists()


def test_plain_torch_weights_load_with_weights_only(tmp_path):
    safe = create_source(f"hf:{tiny_bert(tmp_path / 'safe')}")
    plain = create_source(f"hf:{tiny_bert(tmp_path / 'plain', safe=False)}")
    assert not list((tmp_path / "plain").glob("*.safetensors"))
    np.testing.assert_allclose(plain.embed(TEXTS), safe.embed(TEXTS), atol=1e-6)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"model_type": "mything", "auto_map": {"AutoModel": "modeling.MyModel"}}, "own Python code.*never runs"),
        (
            {"model_type": "mine", "auto_map": {"AutoConfig": "configuration.C", "AutoModel": "modeling.M"}},
            "own Python",
        ),
        ({"model_type": "nosuchmodel"}, "model type in its config.json is not one this transformers knows"),
    ],
)
def test_custom_code_and_unknown_types_are_one_line(tmp_path, config, match):
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match=match) as error:
        create_source(f"hf:{tmp_path}")
    assert "\n" not in str(error.value)


def test_missing_folder_says_what_was_tried(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"no local folder '.*/someorg/no-such-model', and as a Hugging Face hub id"):
        create_source("hf:someorg/no-such-model")
    with pytest.raises(InputError, match=r"model folder '.*/models/x' does not exist"):
        create_source("hf:./models/x")


# ---------------------------------------------------------------- what the cache key hashes


def test_config_change_changes_the_cache_key(tmp_path):
    folder = tiny_bert(tmp_path / "m")
    labels = np.array([0, 1, 0, 1])
    task = TaskData("texts", TEXTS, labels, ("a", "b"), "text", fingerprint_of(TEXTS, labels))
    cache = EmbeddingCache(tmp_path / "cache")
    before = cache.get(create_source(f"hf:{folder}"), task)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1}))  # same weight file
    after = cache.get(create_source(f"hf:{folder}"), task)
    assert cache.misses == 2 and cache.hits == 0
    assert not np.allclose(before, after)


def test_tokenizer_change_changes_the_revision(tmp_path):
    folder = tiny_bert(tmp_path / "m")
    first = create_source(f"hf:{folder}").revision
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**settings, "do_lower_case": False}))
    assert create_source(f"hf:{folder}").revision != first


# ---------------------------------------------------------------- sentence-transformers folders


@pytest.mark.parametrize(("mode", "normalize"), [("cls", True), ("max", False), ("mean", True)])
def test_sentence_transformers_pooling_matches_the_library(tmp_path, mode, normalize):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.normalize import Normalize
    from sentence_transformers.base.modules.transformer import Transformer
    from sentence_transformers.sentence_transformer.modules.pooling import Pooling

    transformer = Transformer(str(tiny_bert(tmp_path / "bert")))
    modules = [transformer, Pooling(32, pooling_mode=mode)] + ([Normalize()] if normalize else [])
    reference = SentenceTransformer(modules=modules, device="cpu")
    reference.save(str(tmp_path / "st"))
    ours = create_source(f"sentence-transformers:{tmp_path / 'st'}")
    assert (ours.pooling, ours.normalize) == (mode, normalize)
    expected = reference.encode(TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(ours.embed(TEXTS), expected, atol=1e-5)
    assert mode == "mean" or not np.allclose(ours.embed(TEXTS), create_source(f"hf:{tmp_path / 'st'}").embed(TEXTS))


def test_sentence_transformers_legacy_pooling_config(tmp_path):
    folder = tiny_bert(tmp_path / "st")
    (folder / "modules.json").write_text(
        json.dumps([{"path": "", "type": "sentence_transformers.models.Transformer"},
                    {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    )  # fmt: skip
    (folder / "1_Pooling").mkdir()
    legacy = {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, **legacy}))
    source = create_source(f"sentence-transformers:{folder}")
    assert (source.pooling, source.normalize) == ("cls", False)
    first = source.revision
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    assert create_source(f"sentence-transformers:{folder}").revision != first


def test_sentence_transformers_unsupported_module_is_one_line(tmp_path):
    folder = tiny_bert(tmp_path / "st")
    (folder / "modules.json").write_text(
        json.dumps([{"path": "2_Dense", "type": "sentence_transformers.models.Dense"}])
    )
    with pytest.raises(InputError, match=r"module 'sentence_transformers.models.Dense' .* not supported"):
        create_source(f"sentence-transformers:{folder}")


# ---------------------------------------------------------------- image models from transformers


@pytest.mark.parametrize("kind", ["vit", "convnext"])
def test_hf_vision_folder_becomes_an_image_source(tmp_path, kind):
    source = create_source(f"hf:{tiny_vision(tmp_path / kind, kind)}")
    assert isinstance(source, HFImageSource) and source.modality == "image"
    images = np.random.default_rng(0).integers(0, 256, size=(5, 20, 24, 3), dtype=np.uint8)
    features = source.embed(images)
    assert features.shape == (5, source.dim) and features.dtype == np.float32 and np.isfinite(features).all()
    assert features.std(0).max() > 0
    assert source.embed(images[..., 0], layer="layer-1").shape[0] == 5  # grey in, an inner layer out
    assert source.random_twin(seed=3).revision != source.revision


def test_hf_vit_pools_the_cls_token_not_its_untrained_pooler(tmp_path):
    source = create_source(f"hf:{tiny_vision(tmp_path / 'vit')}")
    pixels = source.preprocess(np.zeros((2, 32, 32, 3), dtype=np.uint8))
    with torch.inference_mode():
        output = source.model(pixel_values=pixels)
    np.testing.assert_allclose(source.embed(np.zeros((2, 32, 32, 3), dtype=np.uint8)), output.last_hidden_state[:, 0])


def test_hf_vision_fine_tunes_and_probes(tmp_path, digits_small):
    source = create_source(f"hf:{tiny_vision(tmp_path / 'vit')}")
    labelled = (digits_small[1], ("0", "1", "2"))
    train = Examples(digits_small[0], *labelled)
    tuned = create_strategy("finetune", max_steps=3, batch_size=8, random_state=0).fit(train, source=source)
    assert tuned.predict_proba(digits_small[0][:4]).shape == (4, 3)
    probe = create_strategy("linear-probe", random_state=0).fit(Examples(source.embed(train.inputs), *labelled))
    assert probe.predict_proba(source.embed(digits_small[0][:4])).shape == (4, 3)


@pytest.fixture(scope="module")
def digits_small():
    from sklearn.datasets import load_digits

    data = load_digits()
    keep = np.flatnonzero(data.target < 3)[:30]
    return data.images[keep], data.target[keep]
