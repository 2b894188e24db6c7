// Keyboard navigation: Left/Right for previous/next, r for a random comic.
// Each key clicks the matching link, so htmx swaps in place and the
// permalink is pushed exactly as with a mouse.
document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
    return;
  }
  const target = event.target;
  if (target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
    return;
  }
  const nav = { ArrowLeft: "prev", ArrowRight: "next", r: "random" }[event.key];
  const link = nav && document.querySelector(`#comic a[data-nav="${nav}"]`);
  if (link) {
    event.preventDefault();
    link.click();
  }
});
