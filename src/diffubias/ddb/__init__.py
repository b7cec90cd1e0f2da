"""Diffusing DeBias (DDB): a class-conditional diffusion model amplifies the bias of a training set.

Modules, one per concept: ``paths`` (where artifacts live), ``diffusion`` (the class-conditional
UNet and its resumable training), ``sampling`` (guided, deterministic, resumable synthesis and the
alignment metric), ``amplifier`` (the Bias Amplifier and its pseudo-groups), ``recipes`` (the two
registered training methods), ``report`` (ablations, tables, the sample grid).
"""
