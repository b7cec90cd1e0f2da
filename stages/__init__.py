"""Typer commands, one module per pipeline step; each is a DVC stage in dvc.yaml."""
