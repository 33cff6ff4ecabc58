// True once one notebook is shown and its kernel is idle after having shown another status (see recorder.js).
({panel, indicator}) => {
  const panels = document.querySelectorAll(panel);
  const shown = panels.length === 1 && panels[0].querySelector(indicator);
  return Boolean(shown) && shown.getAttribute('data-status') === 'idle'
    && window.__kernelStatus.some((s) => s !== 'idle');
}
