"""`filter`: keep the captions that name one of the corpus's top-F words (DiffuBias step 4)."""
from __future__ import annotations

import csv
from pathlib import Path

import typer

from diffubias import artifacts
from diffubias.captioning import read_jsonl, write_jsonl
from diffubias.config import as_flat_dict
from diffubias.data import benchmark_vocabulary
from diffubias.io import atomic_path
from diffubias.text_filter import filter_captions, require_kept
from diffubias.tracking import track_stage, write_json
from stages.common import BENCHMARK, PARAMS, RATIO, SEED, params_from
from stages.diffubias_common import VARIANT


def filter_command(benchmark: str = BENCHMARK, ratio: str = RATIO, seed: int = SEED, variant: str = VARIANT,
                   params_file: Path = PARAMS) -> None:
    """Filter captions.jsonl -> kept.jsonl, dropped.jsonl, top_words.csv (diffubias_nofilter keeps all)."""
    params = params_from(params_file)
    p = params.text_filter
    enabled = p.enabled and artifacts.VARIANTS[artifacts.check_variant(variant)]
    records = read_jsonl(artifacts.captions_file(benchmark, ratio, seed))
    num_classes = len(benchmark_vocabulary(params.data, benchmark).classes)
    with track_stage("filter", params.tracking, {**as_flat_dict(p, "text_filter."), "variant": variant},
                     benchmark=benchmark, ratio=ratio, seed=seed, variant=variant) as run:
        result = filter_captions(records, num_classes, p.f_multiplier, enabled, p.stopwords)
        require_kept(result)
        out = artifacts.filtered_dir(variant, benchmark, ratio, seed)
        write_jsonl(result.kept, out / "kept.jsonl")
        write_jsonl(result.dropped, out / "dropped.jsonl")
        with atomic_path(out / "top_words.csv") as tmp, open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["rank", "word", "count"])
            w.writerows((i, word, count) for i, (word, count) in enumerate(result.top_words))
        run.log_metrics({k: v for k, v in result.metrics.items() if not isinstance(v, (dict, str))}, prefix="filter.")
        run.log_document("top_words.json", result.metrics["top_words"])
    examples = {"kept": [r["text"] for r in result.kept[:5]], "dropped": [r["text"] for r in result.dropped[:5]]}
    write_json(artifacts.stage_metrics("filter", benchmark, ratio, seed, variant),
               {**result.metrics, "examples": examples, "cost": run.cost})
    m = result.metrics
    typer.echo(f"{variant}: kept {m['kept']} / {m['captions']} captions (keep rate {m['keep_rate']:.2f}); "
               f"top-{m['top_f']} words: {', '.join(list(m['top_words'])[:8])}...")
