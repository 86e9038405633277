"""Tiny randomly initialised vision-language models, built from their configs in code, for plumbing.

No VLM weights install offline here, so the ``hf-vlm:`` path is tested on models of the real
transformers classes and processors with random weights (tests that use them say ``random_tiny``):
the text side is SmolLM2's real tokenizer with each family's image tokens added, the vision side a
one-layer encoder on 32-pixel images. Their answers are noise; what is tested is the processor,
chat template, image placement, batching, cache keys and reports.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

#: SmolVLM's chat template (Idefics3 family): images as ``<image>`` where they sit in the content
IDEFICS3_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}")
#: a ChatML template with LLaVA's ``<image>`` placeholder
LLAVA_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}<image>\n{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
def _text_config(tokenizer: Any, **sizes: int) -> dict[str, Any]:
    return {**dict(model_type="llama", vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                   num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                   pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                   eos_token_id=tokenizer.eos_token_id), **sizes}


#: text sizes vLLM's CPU attention takes (head size 32; the defaults' 8 it has no kernel for)
VLLM_TEXT = {"hidden_size": 64, "num_attention_heads": 2, "num_key_value_heads": 1}


def idefics3(tokenizer_dir: Path, out: Path, **text_sizes: int) -> Path:
    """Idefics3 (SmolVLM's family): SigLIP-style encoder, pixel-shuffle connector, Llama text model."""
    import torch
    from transformers import AutoTokenizer, Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3 import Idefics3ImageProcessorPil

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    images = Idefics3ImageProcessorPil(do_image_splitting=False, size={"longest_edge": 32},
                                       max_image_size={"longest_edge": 32})
    processor = Idefics3Processor(image_processor=images, tokenizer=tokenizer, image_seq_len=4,
                                  chat_template=IDEFICS3_TEMPLATE)
    tokenizer = processor.tokenizer  # now with <image>, <fake_token_around_image>, <end_of_utterance>
    config = Idefics3Config(text_config=_text_config(tokenizer, **text_sizes),
                            vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                               num_attention_heads=4, image_size=32, patch_size=8),
                            scale_factor=2, image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                            pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    return _save(Idefics3ForConditionalGeneration(config), processor, out)


def llava(tokenizer_dir: Path, out: Path) -> Path:
    """LLaVA: CLIP encoder, MLP projector, Llama text model."""
    import torch
    from transformers import AutoTokenizer, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip import CLIPImageProcessorPil

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(image_processor=images, tokenizer=tokenizer, patch_size=8,
                               vision_feature_select_strategy="default", chat_template=LLAVA_TEMPLATE,
                               image_token="<image>", num_additional_image_tokens=1)
    config = LlavaConfig(text_config=_text_config(tokenizer),
                         vision_config=dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=64,
                                            num_hidden_layers=1, num_attention_heads=4, image_size=32,
                                            patch_size=8, projection_dim=32),
                         image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="default", vision_feature_layer=-1,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    return _save(LlavaForConditionalGeneration(config), processor, out)


#: Qwen2-VL's chat template: each image as ``<|vision_start|><|image_pad|><|vision_end|>`` in place
QWEN2_VL_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>{% endif %}{% endfor %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
QWEN2_VL_TOKENS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def qwen2_vl(tokenizer_dir: Path, out: Path) -> Path:
    """Qwen2-VL: a ViT with 2-D rotary patches merged 2x2, multimodal RoPE (M-RoPE) in a Qwen2 text model.

    Needs torchvision (its processor holds a video processor): :func:`families` leaves it out without it."""
    import torch
    from transformers import AutoTokenizer, Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil, Qwen2VLVideoProcessor

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.add_special_tokens({"additional_special_tokens": QWEN2_VL_TOKENS})
    pixels = {"min_pixels": 16 * 16, "max_pixels": 32 * 32}
    images = Qwen2VLImageProcessorPil(patch_size=8, merge_size=2, temporal_patch_size=2, **pixels)
    videos = Qwen2VLVideoProcessor(patch_size=8, merge_size=2, temporal_patch_size=2, **pixels)
    processor = Qwen2VLProcessor(image_processor=images, tokenizer=tokenizer, video_processor=videos,
                                 chat_template=QWEN2_VL_TEMPLATE)
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in
           zip(("vision_start_token_id", "vision_end_token_id", "image_token_id", "video_token_id"), QWEN2_VL_TOKENS)}
    text = {**_text_config(tokenizer), "model_type": "qwen2_vl_text",
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 1, 1]}}
    config = Qwen2VLConfig(text_config=text,
                           vision_config=dict(depth=1, embed_dim=32, hidden_size=32, num_heads=4, mlp_ratio=2,
                                              patch_size=8, spatial_merge_size=2, temporal_patch_size=2),
                           pad_token_id=tokenizer.pad_token_id, **ids)
    torch.manual_seed(0)
    return _save(Qwen2VLForConditionalGeneration(config), processor, out)


def _save(model: Any, processor: Any, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(out)
    processor.save_pretrained(out)
    return out


def has_torchvision() -> bool:
    """Qwen2-VL's processor needs torchvision (for its video processor); the main venv has none (its
    CPU torch has no matching torchvision build here), the vision venv (``make test-vision``) has."""
    import importlib.util

    return importlib.util.find_spec("torchvision") is not None


FAMILIES: dict[str, Callable[[Path, Path], Path]] = {
    "idefics3": idefics3, "llava": llava, **({"qwen2_vl": qwen2_vl} if has_torchvision() else {})}
