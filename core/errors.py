"""One family of named errors. They become an exit code or a ``gr.Error`` only at the edge."""

from __future__ import annotations


class QuorumError(Exception):
    """Base of every error Quorum raises on purpose; its message is fit to show a user."""

    exit_code = 2


class ConfigError(QuorumError):
    """A setting is missing, malformed or names something that does not exist."""


class MissingDependencyError(QuorumError):
    """An optional package is not installed; the message names what to install."""

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the package '{package}': pip install {package}")
        self.package = package


class UsageError(QuorumError):
    """The command line asks for something contradictory or incomplete."""


class ParseError(QuorumError):
    """A source file could not be read as minutes. The message names the file and the problem."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class IndexStoreError(QuorumError):
    """The index could not be read or written."""


class NotFoundError(QuorumError):
    """A meeting, item or other named thing is not in the index."""


class BackendError(QuorumError):
    """An answer backend (local model, OpenAI-compatible server) failed or is unreachable."""


class ModelIntegrityError(BackendError):
    """An assembled model file does not match its pinned size or sha256."""


class UnknownBackendError(ConfigError):
    """No answer backend is registered under the name a setting or option gives."""
