"""Each DVC stage declares exactly the code its command executes (derived from the command's imports)."""
import pytest
from stage_code import closure, compare, stages

STAGES = stages()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_declares_every_code_file_it_executes(name):
    missing, extra = compare(STAGES[name])
    assert not missing, f"{name}: dvc.yaml lacks {missing} (run `python tests/stage_code.py --write`)"
    assert not extra, f"{name}: dvc.yaml declares {extra}, which its command never imports"


def test_closure_follows_lazy_imports_inside_functions():
    # stages.generate imports the generator loader inside the command function
    assert "src/diffubias/foundation/loading.py" in closure("stages.generate")
    assert "src/diffubias/foundation/loading.py" not in closure("stages.train")


def test_a_missing_dependency_is_reported():
    stage = dict(STAGES["mine"])
    stage["deps"] = [d for d in stage["deps"] if d != "src/diffubias/mining.py"]
    missing, _ = compare(stage)
    assert missing == ["src/diffubias/mining.py"]
