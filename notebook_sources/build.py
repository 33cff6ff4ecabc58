"""Build notebooks/NAME.ipynb from notebook_sources/NAME.py (a jupytext percent script) and execute it in place.

Usage: python notebook_sources/build.py NAME [NAME ...]    (NAME without extension, e.g. 02_softmax)

The scripts are the notebooks' editable sources (plain Python, readable diffs); the executed
notebooks are what learners open. tests/integration/test_notebooks.py checks that each pair is in sync.
Cell tags go in the cell header: `# %% tags=["solution"] jupyter={"source_hidden": true}`.
"""
import hashlib
import json
import subprocess
import sys
import time

for name in sys.argv[1:]:
    src, dst = f"notebook_sources/{name}.py", f"notebooks/{name}.ipynb"
    subprocess.run(["jupytext", "--quiet", "--to", "ipynb", "-o", dst, src], check=True)
    nb = json.load(open(dst))
    seen: dict[str, int] = {}
    for cell in nb["cells"]:  # ids from the content, so a rebuild changes only the ids of edited cells
        digest = hashlib.sha1((cell["cell_type"] + "".join(cell["source"])).encode()).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell["id"] = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
    nb["metadata"] = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    json.dump(nb, open(dst, "w"), indent=1, ensure_ascii=False)
    t = time.perf_counter()
    subprocess.run(["jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                    "--ExecutePreprocessor.record_timing=False", "--ExecutePreprocessor.timeout=600", dst], check=True)
    print(f"{dst}: executed in {time.perf_counter() - t:.1f} s")
    # Tidy what execution stored: a deliberate error keeps its one-line message, not a traceback full of
    # this machine's paths (nbval ignores tracebacks); jupytext's layout hints are not needed.
    nb = json.load(open(dst))
    for cell in nb["cells"]:
        cell["metadata"].pop("lines_to_next_cell", None)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"\x1b[0;31m{out['ename']}\x1b[0m: {out['evalue']}"]
    json.dump(nb, open(dst, "w"), indent=1, ensure_ascii=False)
    open(dst, "a").write("\n")
