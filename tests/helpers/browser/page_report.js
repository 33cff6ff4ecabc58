// For failure messages: the kernel status shown and the last ones seen, cells still at [*], open dialogs,
// and the first error output.
({panel, indicator, prompt, stderrMime}) => {
  const status = document.querySelector(indicator);
  const error = document.querySelector(`${panel} .jp-OutputArea-output[data-mime-type="${stderrMime}"]`);
  return {
    status: status ? status.getAttribute('data-status') : 'no notebook toolbar',
    seen: (window.__kernelStatus || []).slice(-8),
    running: [...document.querySelectorAll(`${panel} ${prompt}`)].filter((p) => p.textContent.includes('*')).length,
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map((d) => d.innerText.slice(0, 300)),
    error: error ? error.textContent.trim().slice(0, 1500) : null,
  };
}
