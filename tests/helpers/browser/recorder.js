// Runs before JupyterLab's own scripts (an init script: no argument). Records every kernel status the notebook's
// toolbar shows, and every time a cell's prompt becomes [*] (queued or running). The toolbar indicator reads
// "idle" before a kernel is attached at all, so "idle" only means ready after some other status was shown.
window.__kernelStatus = [];
window.__queued = 0;
new MutationObserver((records) => {
  for (const r of records) {
    const el = r.type === 'characterData' ? r.target.parentElement : r.target;
    if (!el || !el.classList) continue;
    if (r.type === 'attributes' && el.classList.contains('jp-Notebook-ExecutionIndicator')) {
      window.__kernelStatus.push(el.getAttribute('data-status'));
    } else if (r.type !== 'attributes' && el.classList.contains('jp-InputPrompt') && el.textContent.includes('*')) {
      window.__queued += 1;
    }
  }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-status']});
