// Keyboard navigation: Left/Right for previous/next, r for a random comic.
// Each key clicks the matching link, so htmx swaps in place and the
// permalink is pushed exactly as with a mouse. A single-letter shortcut
// can fire by accident (speech input, for one), so r can be turned off,
// and stays off.
// Storage may be refused (privacy settings): then r starts on, and the
// toggle lasts as long as the page.
const rKey = {
  off: false,
  on() {
    try {
      return localStorage.getItem("xkcdapp.r-key") !== "off";
    } catch {
      return !this.off;
    }
  },
  set(on) {
    this.off = !on;
    try {
      if (on) {
        localStorage.removeItem("xkcdapp.r-key");
      } else {
        localStorage.setItem("xkcdapp.r-key", "off");
      }
    } catch {
      // kept in this.off
    }
    showKeysToggle();
  },
};

function showKeysToggle() {
  const toggle = document.getElementById("keys-toggle");
  if (toggle) {
    toggle.hidden = false;
    toggle.textContent = rKey.on() ? "Turn off the r key" : "Turn on the r key";
  }
}
showKeysToggle();
document.addEventListener("htmx:after:swap", showKeysToggle);
document.addEventListener("click", (event) => {
  if (event.target instanceof Element && event.target.id === "keys-toggle") {
    rKey.set(!rKey.on());
  }
});

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
    return;
  }
  const target = event.target;
  if (target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
    return;
  }
  const nav = { ArrowLeft: "prev", ArrowRight: "next", r: rKey.on() && "random" }[event.key];
  const link = nav && document.querySelector(`#comic a[data-nav="${nav}"]`);
  if (link) {
    event.preventDefault();
    link.click();
  }
});

// The home page shows a random comic. Give its history entry the comic's
// permalink, so that Back returns to this comic rather than a new random one.
const shown = document.getElementById("comic");
if (shown && location.pathname === "/") {
  history.replaceState(history.state, "", `/comic/${shown.dataset.num}${location.hash}`);
}

// After a swap, keep keyboard focus somewhere useful (the link or button
// pressed may be gone, as "Previous" is on comic 1, or "Clear history"
// once cleared): on what the swap asks to be read next ([data-focus], as
// a question to confirm), else on the title; and tell screen readers
// which comic arrived.
document.addEventListener("htmx:after:swap", (event) => {
  if (isLiveUpdate(event)) {
    return; // a count changed: the reader stays where they are
  }
  const focused = document.activeElement;
  const lost = !focused || focused === document.body || !focused.isConnected;
  const comic = document.getElementById("comic");
  const title = document.getElementById("comic-title") || document.getElementById("page-title");
  const next = document.querySelector("[data-focus]") || title;
  if (lost && next) {
    next.focus({ preventScroll: true });
  }
  const announce = document.getElementById("announce");
  if (comic && title && announce) {
    announce.textContent = `Comic ${comic.dataset.num}: ${title.textContent}`;
  }
});

// Live stats arrive over a stream (hx-sse) and swap in several times a
// second; they must not move focus or speak.
function isLiveUpdate(event) {
  return event.target instanceof Element && event.target.hasAttribute("hx-sse:connect");
}

// On the live leaderboard, rows that change rank glide to their new
// place so the eye can follow them; not for those who ask for less motion.
const motion = window.matchMedia("(prefers-reduced-motion: no-preference)");
let rowTops = null;
document.addEventListener("htmx:before:swap", (event) => {
  const board = document.getElementById("leaderboard");
  rowTops = isLiveUpdate(event) && board && motion.matches
    ? new Map([...board.querySelectorAll("tr[data-num]")].map((r) => [r.dataset.num, r.getBoundingClientRect().top]))
    : null;
});
document.addEventListener("htmx:after:swap", () => {
  if (!rowTops) {
    return;
  }
  for (const row of document.querySelectorAll("#leaderboard tr[data-num]")) {
    const before = rowTops.get(row.dataset.num);
    const dy = before === undefined ? 0 : before - row.getBoundingClientRect().top;
    if (dy) {
      row.animate([{ transform: `translateY(${dy}px)` }, { transform: "none" }], { duration: 400, easing: "ease-out" });
    }
  }
  rowTops = null;
});
