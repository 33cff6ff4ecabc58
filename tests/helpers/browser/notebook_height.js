// [the height of everything around the notebook (menus, tabs, toolbar, status bar), the notebook's own height]
({panel}) => {
  const outer = document.querySelector(`${panel} .jp-WindowedPanel-outer`);
  const inner = document.querySelector(`${panel} .jp-WindowedPanel-inner`);
  return outer && inner ? [window.innerHeight - outer.clientHeight, inner.scrollHeight] : [0, 0];
}
