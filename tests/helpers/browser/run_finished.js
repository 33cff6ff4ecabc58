// True once Run All has queued cells (more [*] prompts than queuedBefore), the kernel is idle and no [*] is left.
({panel, indicator, prompt, queuedBefore}) => {
  const notebook = document.querySelector(panel);
  const status = notebook && notebook.querySelector(indicator);
  return window.__queued > queuedBefore && Boolean(status) && status.getAttribute('data-status') === 'idle'
    && ![...notebook.querySelectorAll(prompt)].some((p) => p.textContent.includes('*'));
}
