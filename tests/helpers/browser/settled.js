// Every image decoded, no widget still loading, and as many widget views as expected in each cell
// (widgetCells: cell index -> number of widget views).
({panel, widgetCells}) => {
  const notebook = document.querySelector(panel);
  const cells = [...notebook.querySelectorAll('.jp-Notebook-cell')];
  if (![...notebook.querySelectorAll('.jp-OutputArea-output img')].every((img) => img.complete)) return false;
  if ([...notebook.querySelectorAll('.jp-OutputArea-output')].some((o) => o.textContent.includes('Loading widget'))) {
    return false;
  }
  const views = (cell) => [...cell.querySelectorAll('.jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output')]
    .filter((o) => o.querySelector('.jupyter-widgets')).length;
  return Object.entries(widgetCells).every(([i, n]) => cells[i] && views(cells[i]) >= n);
}
