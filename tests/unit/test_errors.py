"""Expected errors carry a sentence that can be shown to a person as it is."""

from __future__ import annotations

from chatbot.errors import ChatbotError, IndexProblem, KnowledgeError, MissingDependencyError


def test_missing_dependency_names_the_package_and_the_extra() -> None:
    error = MissingDependencyError("playwright", "dev")
    assert isinstance(error, ChatbotError)
    assert "'playwright'" in str(error) and "pip install 'chatbot[dev]'" in str(error)


def test_knowledge_error_names_the_file_and_the_field() -> None:
    error = KnowledgeError("knowledge/en/fever.md", "sources[0].url", "must be an https:// link")
    assert (error.path, error.field) == ("knowledge/en/fever.md", "sources[0].url")
    assert str(error) == "knowledge/en/fever.md: sources[0].url: must be an https:// link"


def test_index_problem_says_why() -> None:
    error = IndexProblem("stale", "the knowledge changed since it was built")
    assert error.reason == "stale"
    assert str(error) == "The search index is stale: the knowledge changed since it was built"
