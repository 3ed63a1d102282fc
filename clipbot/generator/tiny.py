"""A tiny random-weight pipeline of the real classes, for tests and the offline demo.

It is built in code (no hub access: the tokenizer is made with the ``tokenizers`` library) and
saved with ``save_pretrained``, so loading it exercises exactly the production
``from_pretrained`` path. Its frames are noise, but they have the real shapes and rules: the LTX
variant compresses 32x in space and 8x in time like LTX-Video, the Wan variant 16x and 4x like
Wan 2.1.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Literal

import torch
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel

from clipbot.generator.presets import PRESET_MARKER

# Typed as Any: their constructors are untyped, which strict mypy refuses to call.
diffusers: Any = importlib.import_module("diffusers")
transformers: Any = importlib.import_module("transformers")

TinyFamily = Literal["ltx", "wan"]
TINY_PRESETS: dict[TinyFamily, str] = {"ltx": "tiny", "wan": "tiny-wan"}

_TEXT_DIM = 32
_WORDS = """a an the of in on with and cat dog fox bird fish city forest river snow rain sun night
running flying walking dancing red blue green slow fast camera shot close wide"""


def _tokenizer() -> Any:
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    vocab.update({word: index + 3 for index, word in enumerate(_WORDS.split())})
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=128,
    )


def _text_encoder_config() -> dict[str, Any]:
    return {
        "vocab_size": 64,
        "d_model": _TEXT_DIM,
        "d_kv": 8,
        "d_ff": 37,
        "num_layers": 2,
        "num_heads": 4,
        "relative_attention_num_buckets": 8,
    }


def _ltx_components() -> dict[str, Any]:
    transformer = diffusers.LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=2,
        caption_channels=_TEXT_DIM,
    )
    vae = diffusers.AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        patch_size=4,
        patch_size_t=1,
    )
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": diffusers.FlowMatchEulerDiscreteScheduler(),
        "text_encoder": transformers.T5EncoderModel(
            transformers.T5Config(**_text_encoder_config())
        ),
        "tokenizer": _tokenizer(),
    }


def _wan_components() -> dict[str, Any]:
    transformer = diffusers.WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=_TEXT_DIM,
        freq_dim=32,
        ffn_dim=32,
        num_layers=2,
        rope_max_seq_len=32,
    )
    vae = diffusers.AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    return {
        "transformer": transformer,
        "vae": vae,
        "scheduler": diffusers.UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        ),
        "text_encoder": transformers.UMT5EncoderModel(
            transformers.UMT5Config(**_text_encoder_config())
        ),
        "tokenizer": _tokenizer(),
    }


def build_tiny_model(directory: Path, family: TinyFamily = "ltx", seed: int = 0) -> Path:
    """Build the tiny pipeline with weights drawn from ``seed`` and save it into ``directory``."""
    torch.manual_seed(seed)
    if family == "ltx":
        pipeline = diffusers.LTXPipeline(**_ltx_components())
    else:
        pipeline = diffusers.WanPipeline(**_wan_components())
    directory.mkdir(parents=True, exist_ok=True)
    pipeline.save_pretrained(directory)
    (directory / PRESET_MARKER).write_text(json.dumps({"preset": TINY_PRESETS[family]}) + "\n")
    return directory
