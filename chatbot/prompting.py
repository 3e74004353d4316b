"""Stage 4: render the prompt from the template files in `prompts/`, with retrieved text in a delimited data
section that the model is told is data, not instructions."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Sequence

from chatbot.errors import PromptTemplateError
from chatbot.types import Passage, Prompt, Turn

# Delimiters are ours alone: any copy of them inside passage text is neutralised so data cannot close the section.
_DELIMITERS = re.compile(r"<<<|>>>")


@lru_cache(maxsize=32)
def load_template(folder: Path, name: str) -> Template:
    path = folder / f"{name}.txt"
    try:
        return Template(path.read_text(encoding="utf-8").strip())
    except OSError:
        raise PromptTemplateError(f"The prompt template {path} is missing.") from None


def fill(folder: Path, name: str, **values: object) -> str:
    try:
        return load_template(folder, name).substitute(**values)
    except KeyError as missing:
        raise PromptTemplateError(f"The prompt template '{name}' needs the variable {missing.args[0]}.") from None
    except ValueError as error:
        raise PromptTemplateError(f"The prompt template '{name}' is malformed: {error}.") from None


def render_prompt(folder: Path, question: str, passages: Sequence[Passage], prefill: str = "",
                  max_sentences: str = "2 to 3") -> Prompt:
    blocks = [
        fill(folder, "passage", number=i, title=p.chunk.title, section=p.chunk.section,
             text=_DELIMITERS.sub(" ", " ".join(p.chunk.text.split())))
        for i, p in enumerate(passages, start=1)
    ]
    system = fill(folder, "system", max_sentences=max_sentences)
    user = fill(folder, "answer", passages="\n".join(blocks), question=_DELIMITERS.sub(" ", question))
    return Prompt(system=system, messages=(Turn("user", user),), prefill=prefill)
