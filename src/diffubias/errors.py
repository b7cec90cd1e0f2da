"""Errors that carry a user-facing message (printed without a traceback by the CLI)."""


class DiffubiasError(Exception):
    """Base class: the message names the file or parameter at fault and the fix."""


class ConfigError(DiffubiasError):
    """params.yaml (or a CLI option) is invalid."""


class DataError(DiffubiasError):
    """A dataset directory or file is missing, empty, corrupt or mislabelled."""


class RegistryError(DiffubiasError):
    """An unknown name was asked of a registry (architecture, loss, method, ...)."""
