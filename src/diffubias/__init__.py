"""diffubias: reproducible diffusion-based dataset debiasing (DiffuBias, DDB, FFR and baselines)."""

__version__ = "0.1.0"
