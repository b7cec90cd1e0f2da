"""Config fingerprints that decide whether a grid may reuse a finished run."""
from __future__ import annotations

import json

from diffubias.config import TrainParams
from diffubias.resume import CONFIG_KEY, files_digest, fingerprint, status


def test_fingerprint_changes_with_any_setting_and_not_with_key_order():
    base = fingerprint(train=TrainParams(), run="ffr-erm", seed=0)
    assert base == fingerprint(seed=0, run="ffr-erm", train=TrainParams())
    assert base != fingerprint(train=TrainParams(epochs=TrainParams().epochs + 1), run="ffr-erm", seed=0)
    assert base != fingerprint(train=TrainParams(), run="ffr-erm", seed=1)


def test_files_digest_sees_content_and_absence(tmp_path):
    a = tmp_path / "manifest.csv"
    absent = files_digest([a])
    a.write_text("file,prompt\n0.png,a red circle\n")
    one = files_digest([a])
    a.write_text("file,prompt\n0.png,a blue circle\n")
    assert len({absent, one, files_digest([a])}) == 3


def test_status_of_a_results_file(tmp_path):
    path = tmp_path / "seed0.json"
    assert status(path, "abc") == "missing"
    path.write_text(json.dumps({"valid": 1.0}))
    assert status(path, "abc") == "unrecorded"
    path.write_text(json.dumps({CONFIG_KEY: "abc"}))
    assert status(path, "abc") == "current"
    assert status(path, "xyz") == "stale"
    path.write_text("{not json")  # a file cut short is never reused
    assert status(path, "abc") == "unreadable"
