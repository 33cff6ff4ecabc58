// After the viewport grew: true once Lumino has laid the panels out again, the notebook area taking all
// but frame pixels of the window (scrolled to the top).
({panel, frame}) => {
  const outer = document.querySelector(`${panel} .jp-WindowedPanel-outer`);
  if (!outer) return true;
  outer.scrollTop = 0;
  return window.innerHeight - outer.clientHeight <= frame + 2;
}
