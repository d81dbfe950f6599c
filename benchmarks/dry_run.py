"""How long `snakemake -n` takes on the default config, and what parsing the Snakefile imports, for this checkout
against a baseline checkout (e.g. `git worktree add /tmp/base <commit>`), interleaved in one invocation.

    .venv/bin/python benchmarks/dry_run.py --baseline /tmp/base --repeats 5

Every cluster job parses the Snakefile again, so parse time is paid once per job, not once per study.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# jinja2 is left out: snakemake imports it itself (its report module), whatever the Snakefile does.
HEAVY = ("torch", "torchvision", "sklearn", "scipy", "matplotlib", "thop")


def dry_run(tree: Path, workdir: Path, importtime: bool = False) -> subprocess.CompletedProcess:
    args = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "snakemake", "-n"]
    args += ["-s", str(tree / "Snakefile"), "-d", str(workdir), "--configfile", str(tree / "config/config.yaml")]
    proc = subprocess.run(args, cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"snakemake -n failed in {tree}:\n{proc.stderr[-3000:]}")
    return proc


def imports(tree: Path, workdir: Path) -> dict:
    stderr = dry_run(tree, workdir, importtime=True).stderr
    modules = [m[1] for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", stderr, re.MULTILINE)]
    return {
        "heavy": sorted({m.split(".")[0] for m in modules} & set(HEAVY)),
        "ablation": sorted(m for m in set(modules) if m.startswith("ablation")),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout of this repository")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "results/bench/dry_run.json")
    args = parser.parse_args(argv)
    trees = {"baseline": args.baseline.resolve(), "this": REPO}
    times = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for name, tree in trees.items():
            dry_run(tree, Path(tmp) / name)  # warm the file cache and .snakemake once
        for _ in range(args.repeats):
            for name, tree in trees.items():
                start = time.perf_counter()
                dry_run(tree, Path(tmp) / name)
                times[name].append(time.perf_counter() - start)
        modules = {name: imports(tree, Path(tmp) / name) for name, tree in trees.items()}
    result = {
        name: {"tree": str(tree), "seconds": times[name], "median_s": statistics.median(times[name]), **modules[name]}
        for name, tree in trees.items()
    }
    print(f"snakemake -n, default config, {args.repeats} interleaved repeats (median, min-max):")
    for name, r in result.items():
        print(
            f"  {name:8s} {r['median_s']:6.2f} s ({min(r['seconds']):.2f}-{max(r['seconds']):.2f})  "
            f"heavy packages imported: {', '.join(r['heavy']) or 'none'}"
        )
        print(f"           ablation modules: {', '.join(r['ablation'])}")
    print(f"  ratio baseline/this: {result['baseline']['median_s'] / result['this']['median_s']:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
