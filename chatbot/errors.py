"""Expected errors. Each carries a sentence that can be shown to a person as it is."""

from __future__ import annotations


class ChatbotError(Exception):
    """Base class: `str(error)` is a complete, user-facing sentence."""


class ConfigError(ChatbotError):
    pass


class ModelMissingError(ChatbotError):
    pass


class MissingDependencyError(ChatbotError):
    def __init__(self, package: str, extra: str):
        super().__init__(f"The optional package '{package}' is missing. Install it with: pip install 'chatbot[{extra}]'")


class KnowledgeError(ChatbotError):
    def __init__(self, path: str, field: str, message: str):
        self.path, self.field = path, field
        super().__init__(f"{path}: {field}: {message}")


class ImportProblem(ChatbotError):
    """One file (or one item in it) that `chatbot ingest` could not import; the rest goes in."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


class IndexProblem(ChatbotError):
    """The saved index is missing, stale or corrupt; `reason` says which."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        super().__init__(f"The search index is {reason}: {detail}")


class PromptTemplateError(ChatbotError):
    pass


class GenerationError(ChatbotError):
    pass


class BadInputError(ChatbotError):
    pass
