// The room's sound as an observer has it: a play button (browsers play nothing unasked), a stop
// button, and the state in plain words. It follows the room the observer watches.
import { useEffect } from "preact/hooks";
import { t } from "./i18n.js";
import { errorText, html, N_, nameOf, roomLabel } from "./ui.js";
import { ListenClient } from "./listen.js";

// Why listening did not start, or stopped, in words.
const FAILED_LINES = {
  voice_unavailable: N_("The room's sound is not available right now. Try again in a moment."),
  not_in_room: N_("This room's sound is not available."),
  no_route: N_("The room's sound could not reach this device. Try again."),
};
const ENDED_LINES = {
  room_closed: N_("This room has closed: its sound has ended."),
  voice_unavailable: N_("The voice server stopped: the sound comes back by itself when it returns."),
};
const NOTES = {
  rejoining: N_("The voice server restarted: listening again…"),
  back: N_("Listening again."),
};

/**
 * @param {{voice: object, room: object, client: object}} props
 */
export function ListenBar({ voice, room, client }) {
  const listener = voice.listen.client;
  const local = voice.listen.local;
  const active = ["starting", "listening", "rejoining", "blocked"].includes(local.phase);
  const open = !room.closed;
  // The room picker: a page that listens follows the room it shows; a page that listened
  // before it reloaded (the picker reloads it) listens again.
  useEffect(() => {
    if (!voice.available || !open) return;
    if (active && local.room !== room.id) listener.listen(room.id);
    else if (local.phase === "idle" && ListenClient.wasListening()) listener.listen(room.id);
  }, [room.id, voice.available]);
  const talking = voice.talking[room.id] ?? [];
  const line = lineOf(local, voice.available, open, room);
  const live = local.phase === "listening";
  return html`<section class=${`voice-bar listen-bar card${live ? " live" : ""}`}
      aria-label=${t("The room's sound")}>
    <p class="voice-state" role="status">
      <span class=${`mic-dot${live ? " on" : ""}`} aria-hidden="true"></span>${line}</p>
    ${live && talking.length > 0 && html`<p class="speaking-now">
      ${t("Speaking now: {names}", { names: talking.map((id) => nameOf(client, id)).join(", ") })}</p>`}
    ${local.note && html`<p class="voice-note" role="alert">${t(NOTES[local.note])}</p>`}
    ${voice.available && open && html`<div class="row">
      ${local.phase === "blocked"
        ? html`<button type="button" class="primary" onClick=${() => listener.resume()}>
            ${t("Play the sound")}</button>`
        : !active && html`<button type="button" class="primary"
            onClick=${() => listener.listen(room.id)}>${t("Listen to this room")}</button>`}
      ${active && html`<button type="button" onClick=${() => listener.stop()}>
        ${t("Stop listening")}</button>`}
    </div>`}
    ${!open && room.id !== "plenary" && html`<p class="row">
      <a href=${roomAddress("plenary")}>${t("Go to the plenary")}</a></p>`}
  </section>`;
}

/** This page's address for watching another room (as the room picker goes there). */
function roomAddress(roomId) {
  const params = new URLSearchParams(window.location.search);
  params.set("room", roomId);
  return `?${params}`;
}

/** The state line: what the observer hears now, or why not. */
function lineOf(local, available, open, room) {
  if (!available || local.off) return t("Voice is off on this server");
  if (local.phase === "ended") return t(ENDED_LINES[local.ended] ?? ENDED_LINES.voice_unavailable);
  if (!open) return t("This room has closed: its sound has ended.");
  switch (local.phase) {
    case "starting":
      return t("Connecting to the room's sound…");
    case "rejoining":
      return t("Connecting to the room's sound…");
    case "listening":
      return t("Listening to {room} live", { room: roomLabel(room) });
    case "blocked":
      return t("Your browser held the sound back: press Play the sound to hear it.");
    case "failed":
      return FAILED_LINES[local.error] ? t(FAILED_LINES[local.error]) : errorText(local.error);
    default:
      return t("Not listening");
  }
}
