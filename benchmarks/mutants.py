"""`make mutants`: the mutation check. Does the suite fail when the behaviour breaks?

Each entry of benchmarks/mutants.yaml is a small change that breaks one behaviour on purpose (a file, the text to
replace, its replacement, the tests that must fail, a one-line description). The check copies the checkout's own files
(tracked, and new ones git does not ignore) to a temporary directory, runs all the entries' tests there once unchanged
(they must pass, or a failure would count as a kill), then applies each change alone, runs its tests, and puts the file
back. A change whose tests still pass survived: the suite would not notice that breakage. Prints a table of every
change and whether it was killed; exits 1 if any survived or could not be applied (an `old` text the code no longer
has, exactly once). Nothing is written to the checkout.

    python benchmarks/mutants.py [--only NAME ...] [--list]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
MUTANTS = Path(__file__).with_name("mutants.yaml")
# One process (the entries' tests share module fixtures), stopping at the first failure: a kill needs one.
PYTEST = [sys.executable, "-m", "pytest", "-n", "0", "-q", "-x", "--no-header"]
REQUIRED = ("name", "description", "file", "old", "new", "tests")


def load_mutants(path: Path = MUTANTS) -> list[dict]:
    mutants = yaml.safe_load(path.read_text())
    names = [m.get("name") for m in mutants]
    for mutant in mutants:
        missing = [key for key in REQUIRED if not mutant.get(key)]
        if missing:
            raise SystemExit(f"{path}: entry {mutant.get('name', mutant)} lacks {', '.join(missing)}")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SystemExit(f"{path}: names used twice: {', '.join(duplicates)}")
    return mutants


def copy_checkout(destination: Path) -> Path:
    """The checkout's own files at `destination`, as the suite's checkout_copy makes them (tests/conftest.py)."""
    command = ["git", "ls-files", "-co", "--exclude-standard", "-z"]
    listed = subprocess.run(command, cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file() and not source.is_symlink():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def why_not_applicable(text: str, mutant: dict) -> str | None:
    """Why `mutant` cannot be applied to `text` (its file's content), or None."""
    count = text.count(mutant["old"])
    if count != 1:
        return f"its old text occurs {count} times in {mutant['file']}, not once: the list is out of date"
    if mutant["old"] == mutant["new"]:
        return "its old and new texts are the same"
    return None


def run_tests(copy: Path, tests: list[str]) -> tuple[int, str, float]:
    """(pytest's exit status, the last lines of its output, seconds) of `tests` in the copy."""
    start = time.perf_counter()
    proc = subprocess.run([*PYTEST, *tests], cwd=copy, capture_output=True, text=True)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
    return proc.returncode, tail, time.perf_counter() - start


def verdict(returncode: int) -> str:
    """pytest's exit status as the fate of a change: 1 (tests failed) kills it; 0 lets it survive; any other (no
    tests collected, an internal error, an interruption) says nothing about the change."""
    return {0: "SURVIVED", 1: "killed"}.get(returncode, f"error (pytest exit {returncode})")


def check(mutants: list[dict], copy: Path) -> list[dict]:
    """Each mutant applied alone in `copy`, its tests run: one result per mutant."""
    results = []
    for mutant in mutants:
        path = copy / mutant["file"]
        original = path.read_text()
        problem = why_not_applicable(original, mutant)
        if problem:
            results.append({**mutant, "result": f"not applied: {problem}", "seconds": 0.0, "tail": ""})
            print(f"{mutant['name']}: not applied: {problem}", flush=True)
            continue
        path.write_text(original.replace(mutant["old"], mutant["new"]))
        try:
            returncode, tail, seconds = run_tests(copy, mutant["tests"])
        finally:
            path.write_text(original)
        results.append({**mutant, "result": verdict(returncode), "seconds": seconds, "tail": tail})
        print(f"{mutant['name']}: {verdict(returncode)} ({seconds:.0f} s)", flush=True)
    return results


def table(results: list[dict]) -> str:
    width = max(len(r["name"]) for r in results)
    lines = [f"{'mutant':<{width}}  {'result':<8}  {'s':>5}  what it breaks"]
    for r in results:
        lines.append(f"{r['name']:<{width}}  {r['result']:<8}  {r['seconds']:>5.0f}  {r['description']}")
    killed = sum(r["result"] == "killed" for r in results)
    lines.append(f"{killed} of {len(results)} mutants killed")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="check these entries only")
    parser.add_argument("--list", action="store_true", help="list the entries and their tests, run nothing")
    args = parser.parse_args(argv)
    mutants = load_mutants()
    if args.only:
        unknown = sorted(set(args.only) - {m["name"] for m in mutants})
        if unknown:
            raise SystemExit(f"no such mutant(s) in {MUTANTS.name}: {', '.join(unknown)}")
        mutants = [m for m in mutants if m["name"] in args.only]
    if args.list:
        for mutant in mutants:
            print(f"{mutant['name']}: {mutant['description']}\n  {mutant['file']}; tests: {' '.join(mutant['tests'])}")
        return 0
    with tempfile.TemporaryDirectory(prefix="mutants-") as work:
        copy = copy_checkout(Path(work) / "checkout")
        tests = list(dict.fromkeys(test for m in mutants for test in m["tests"]))
        print(f"Unchanged copy: {len(tests)} test(s) of {len(mutants)} mutant(s) must pass first", flush=True)
        returncode, tail, seconds = run_tests(copy, tests)
        if returncode != 0:
            print(f"The covering tests fail without any change ({seconds:.0f} s): fix them first.\n{tail}")
            return 1
        print(f"  passed in {seconds:.0f} s", flush=True)
        results = check(mutants, copy)
    print()
    print(table(results))
    for r in results:
        if r["result"] != "killed" and r["tail"]:
            print(f"\n--- {r['name']} ({r['result']}): its tests' last lines\n{r['tail']}")
    return 0 if all(r["result"] == "killed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
