"""Small randomly initialised Hugging Face models, built offline for tests.

No causal LM or CLIP checkpoint installs here, so the code paths that load them are tested on
models of the real classes (GPT-2, CLIP) built from a config with random weights, saved as
safetensors with a tokenizer trained in the test on a few strings.
"""

from __future__ import annotations

from pathlib import Path

import torch

CORPUS = [
    "Input: shares fell as the bank reported profits\nLabel: business\n\n",
    "Input: the minister said the election bill passed\nLabel: politics\n\n",
    "Input: the striker scored twice in the cup final\nLabel: sport\n\n",
    "a photo of the digit zero one two three four five six seven eight nine N/A",
]


def save_tokenizer(folder: Path, extra: list[str] | None = None) -> object:
    """A byte-level BPE tokenizer trained on :data:`CORPUS`, saved as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(CORPUS + (extra or []), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", pad_token="<pad>")
    fast.save_pretrained(folder)
    return fast


def tiny_gpt2(folder: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-wide GPT-2 with random weights and a trained tokenizer, in ``folder``."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = save_tokenizer(folder)
    ids = {"bos_token_id": tokenizer.eos_token_id, "eos_token_id": tokenizer.eos_token_id}
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=512, n_embd=32, n_layer=2, n_head=2, **ids)
    torch.manual_seed(seed)
    GPT2LMHeadModel(config).eval().save_pretrained(folder)
    return folder


def tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A CLIP with 2-layer text and vision towers (32 px images, 8 px patches), random weights."""
    import transformers
    from transformers import CLIPConfig, CLIPModel

    # transformers 5 names the Pillow processor apart (the default one wants torchvision, absent here)
    processor = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor

    tokenizer = save_tokenizer(folder)
    text = {"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    ids = {"eos_token_id": tokenizer.eos_token_id, "bos_token_id": tokenizer.eos_token_id, "pad_token_id": 1}
    text |= {"num_attention_heads": 2, "max_position_embeddings": 64, **ids}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    vision |= {"image_size": 32, "patch_size": 8}
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    torch.manual_seed(seed)
    CLIPModel(config).eval().save_pretrained(folder)
    processor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
