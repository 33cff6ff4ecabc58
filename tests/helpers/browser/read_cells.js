// One record per notebook cell, in order: prompt, outputs (top level), images, errors at any depth.
// partSelectors: the selectors of a widget's parts (slider, progress bar), counted where shown in each output.
({panel, prompt, stderrMime, partSelectors}) => {
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none';
  };
  const notebook = document.querySelector(panel);
  return [...notebook.querySelectorAll('.jp-Notebook-cell')].map((cell) => {
    const shownPrompt = cell.querySelector(prompt);
    const outputs = [...cell.querySelectorAll('.jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output')];
    return {
      code: cell.classList.contains('jp-CodeCell'),
      prompt: shownPrompt ? shownPrompt.textContent.trim() : null,
      outputs: outputs.map((out) => ({
        mime: out.getAttribute('data-mime-type'),
        text: out.textContent.trim().slice(0, 4000),
        widget: out.querySelector('.jupyter-widgets') !== null,
        shown: shown(out),
        parts: Object.fromEntries(partSelectors.map((s) => [s, [...out.querySelectorAll(s)].filter(shown).length])),
        pngs: out.getAttribute('data-mime-type') === 'image/png' ? out.querySelectorAll('img').length : 0,
        images: [...out.querySelectorAll('img')].map((img) => ({
          loaded: img.complete && img.naturalWidth > 0, inWidget: img.closest('.jupyter-widgets') !== null,
        })),
      })),
      errors: [...cell.querySelectorAll(`.jp-OutputArea-output[data-mime-type="${stderrMime}"]`)]
        .map((e) => e.textContent.trim().slice(0, 4000)),
    };
  });
}
