// The page's two live regions: polite for the floor changing, assertive for time running out.
let clearing;

/** Announce a sentence to screen readers without moving the focus. */
export function announce(text, urgent = false) {
  const region = document.getElementById(urgent ? "alerter" : "announcer");
  if (!region) return;
  // Re-setting the same text would not be read again: clear first, then write.
  region.textContent = "";
  clearTimeout(clearing);
  requestAnimationFrame(() => {
    region.textContent = text;
    clearing = setTimeout(() => { region.textContent = ""; }, 5000);
  });
}
