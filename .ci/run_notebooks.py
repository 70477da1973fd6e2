"""Execute every notebook in notebooks/ against a published ardent output and check that each
one ran without error and drew its figures.

    python .ci/run_notebooks.py OUT [EXECUTED_DIR]

OUT is passed to the notebooks as ARDENT_OUT. The executed copies (with their figures) are
written to EXECUTED_DIR when given."""

import os
import pathlib
import sys

import nbformat
from nbclient import NotebookClient

# Figures each notebook must draw; a notebook that finds no data stops on an assert instead.
FIGURES = {"portfolio_dashboard": 4, "cohorts_and_roll_rates": 3, "model_report": 3}


def main(out: pathlib.Path, executed: pathlib.Path | None) -> None:
    os.environ["ARDENT_OUT"] = str(out.resolve())
    folder = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
    found = sorted(folder.glob("*.ipynb"))
    assert {p.stem for p in found} == set(FIGURES), f"notebooks changed: {[p.name for p in found]}"
    for path in found:
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
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else None)
