"""Embedded foundation models: a captioned world corpus, a text-to-image latent diffusion
pipeline, an image captioner and a reference classifier, plus the one loader for them (and for
hub models such as Stable Diffusion or BLIP on machines that have them)."""
