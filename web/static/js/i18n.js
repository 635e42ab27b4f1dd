// Messages in the viewer's language, from the same Babel catalogs the templates use.
const config = JSON.parse(document.getElementById("palabre-config").textContent);

/** The page's settings as the server rendered them (language, messages, invite mode). */
export const pageConfig = config;
export const lang = config.lang;

/**
 * Translate a message; `{name}` placeholders take their values from `values`.
 * @param {string} message
 * @param {Record<string, unknown>} [values]
 */
export function t(message, values = {}) {
  const text = config.messages[message] ?? message;
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

/** "1:05" for 65 seconds; negative durations show as 0:00. */
export function formatDuration(ms) {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

// The viewer's own locale when it speaks the page's language (en-GB keeps its 24-hour clock).
const locale = navigator.languages.find((tag) => tag.split("-")[0] === lang) ?? lang;
const clock = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" });

/** A time of day in the viewer's locale. */
export function formatTime(ms) {
  return clock.format(new Date(ms));
}

/** Ordinals are hard to translate well; "3rd" becomes "number 3" in French and English alike. */
export function placeText(place) {
  return place === 1 ? t("You are next") : t("You are number {place} in line", { place });
}
