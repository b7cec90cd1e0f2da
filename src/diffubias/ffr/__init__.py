"""From Fake to Real (FFR) with the USB and ASB synthetic-data baselines (METHODS.md §4).

``prompts`` writes one prompt per (class, bias) subgroup, ``counts`` decides how many synthetic
images each subgroup gets, ``synthetic`` turns the generated pool into training sets,
``runs`` names every trainable variant and ``train`` runs its phases (stage 1 → stage 2).
"""
