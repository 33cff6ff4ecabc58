"""Sphinx extension for the course website: show a stored notebook as a static page shows it best.

Two things a static page cannot do the way JupyterLab does, handled here rather than in the notebooks:

- **Widget outputs** (tqdm progress bars, `interact` sliders) need a running kernel. Their stored
  plain-text stand-ins are misleading on a page (a finished progress bar reads ``0%|  | 0/300``,
  as it was when first displayed), and rendering the stored widget state would load JavaScript from
  a CDN. The course keeps a static figure beside every widget (CONTRIBUTING.md, "Notebooks"), so the site
  drops widget outputs; the cell's other outputs (printed lines, figures) stay.
- **Hidden cell sources** (``"jupyter": {"source_hidden": true}``, how every exercise's solution is
  stored) are collapsed behind a "Show the solution" toggle instead of shown in full.
"""

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _is(node, element):
    return isinstance(node, nodes.container) and node.get("nb_element") == element


class DropWidgetOutputs(SphinxPostTransform):
    """Remove every notebook output whose mime bundle holds a widget view, before myst-nb picks a mime type."""

    default_priority = 3  # myst-nb's SelectMimeType runs at 4

    def run(self, **kwargs):
        for bundle in list(self.document.findall(lambda n: _is(n, "mime_bundle"))):
            if any(child.get("mime_type") == WIDGET_VIEW for child in bundle.children):
                bundle.parent.remove(bundle)
        for outputs in list(self.document.findall(lambda n: _is(n, "cell_code_output"))):
            if not outputs.children:
                outputs.parent.remove(outputs)


class CollapseHiddenSources(SphinxPostTransform):
    """Give a code cell stored with a hidden source myst-nb's "hide-input" toggle."""

    default_priority = 100  # myst-nb's HideInputCells, which builds the toggle, runs at 199
    formats = ("html",)

    def run(self, **kwargs):
        for cell in self.document.findall(lambda n: _is(n, "cell_code")):
            metadata = cell.get("cell_metadata", {})
            if not metadata.get("jupyter", {}).get("source_hidden") or cell.get("hide_mode"):
                continue
            solution = "solution" in metadata.get("tags", [])
            cell["hide_mode"] = "input"
            cell["prompt_show"] = "Show the solution" if solution else self.config.nb_code_prompt_show
            cell["prompt_hide"] = "Hide the solution" if solution else self.config.nb_code_prompt_hide


def setup(app):
    app.add_post_transform(DropWidgetOutputs)
    app.add_post_transform(CollapseHiddenSources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
