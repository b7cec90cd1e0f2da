"""Training methods: import the modules here so every method is registered."""
from diffubias.methods import erm  # noqa: F401
from diffubias.methods import dfr, groupdro, jtt, lff, resample  # noqa: F401
from diffubias.methods.base import METHODS, Batch, Method, MethodContext, get_method

__all__ = ["METHODS", "Batch", "Method", "MethodContext", "get_method"]
