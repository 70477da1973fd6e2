"""Execute every notebook in notebooks/ against a published ardent output and check that each
one ran without error and drew its figures.

    python .ci/run_notebooks.py OUT --collections COLLECTIONS_OUT [--executed DIR]

OUT is passed to the notebooks as ARDENT_OUT; the collections notebook gets COLLECTIONS_OUT
instead (a run with an activities input). The executed copies (with their figures) are
written to DIR when given."""

import argparse
import os
import pathlib

import nbformat
from nbclient import NotebookClient

# Figures each notebook must draw; a notebook that finds no data stops on an assert instead.
FIGURES = {"portfolio_dashboard": 4, "cohorts_and_roll_rates": 3, "model_report": 3, "collections": 4}


def main(out: pathlib.Path, collections: pathlib.Path, executed: pathlib.Path | None) -> None:
    folder = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
    found = sorted(folder.glob("*.ipynb"))
    assert {p.stem for p in found} == set(FIGURES), f"notebooks changed: {[p.name for p in found]}"
    for path in found:
        os.environ["ARDENT_OUT"] = str((collections if path.stem == "collections" else out).resolve())
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
        images = sum(
            1
            for cell in nb.cells
            if cell.cell_type == "code"
            for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})
        )
        assert images >= FIGURES[path.stem], f"{path.name}: {images} figures, expected {FIGURES[path.stem]}"
        if executed:
            executed.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, executed / path.name)
        print(f"{path.name}: ran, {images} figures")


if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("out", type=pathlib.Path)
    args.add_argument("--collections", type=pathlib.Path, required=True)
    args.add_argument("--executed", type=pathlib.Path)
    a = args.parse_args()
    main(a.out, a.collections, a.executed)
