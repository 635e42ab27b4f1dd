// A facilitator's side panels: the room's fairness figures, and control over people and rules.
import { useState } from "preact/hooks";
import { figuresMeanSomething, roomFairness } from "./fairness.js";
import { formatDuration, t } from "./i18n.js";
import { Action, html, nameOf } from "./ui.js";
import { SpeakingMark } from "./voicebar.js";

export function FairnessPanel({ client, room, now }) {
  const figures = roomFairness(client, room.id, now);
  const most = Math.max(1, ...figures.speakers.map((s) => s.spoken_ms));
  const meaningful = figuresMeanSomething(figures);
  return html`<section class="card fairness" aria-labelledby="fairness-heading">
    <h3 id="fairness-heading">${t("Who has spoken")}</h3>
    <p class="fairness-summary">${figures.not_spoken.length === 0
      ? t("Everyone has spoken.")
      : t("{count} of {total} have not spoken yet.",
          { count: figures.not_spoken.length, total: figures.speakers.length })}</p>
    ${meaningful
      ? html`<p>${t("Inequality of speaking time (Gini): {gini}", { gini: figures.gini.toFixed(2) })}
          <span class="muted"> · ${t("0 is perfectly equal, 1 is one person speaking")}</span></p>`
      : html`<p class="muted">${t("The inequality figure appears once three people have spoken or two minutes have passed.")}</p>`}
    <ul class="bars">${figures.speakers.map((s) => html`<li>
      <span class="who">${nameOf(client, s.participant)}</span>
      <span class="bar" aria-hidden="true"><span style=${{ width: `${(100 * s.spoken_ms) / most}%` }}></span></span>
      <span class="total">${formatDuration(s.spoken_ms)} · ${t("Turns: {turns}", { turns: s.turns })}</span>
    </li>`)}</ul>
    ${figures.not_spoken.length > 0 && html`<p><strong>${t("Not spoken yet:")}</strong>${" "}
      ${figures.not_spoken.map((id) => nameOf(client, id)).join(", ")}</p>`}
  </section>`;
}

export function ModerationPanel({ client, room, send, present, talking }) {
  return html`<section class="card moderation" aria-labelledby="moderation-heading">
    <h3 id="moderation-heading">${t("People and rules")}</h3>
    <ul class="people">${room.jurors.map((id) => html`<${Person} id=${id} client=${client}
      room=${room} send=${send} online=${present.includes(id)}
      talking=${talking.includes(id)} />`)}</ul>
    <div class="row">
      ${room.locked
        ? html`<${Action} label=${t("Unlock the room")} send=${send} command="unlock_room" />`
        : html`<${Action} label=${t("Lock the room")} send=${send} command="lock_room" />`}
      ${room.paused_at_ms === null
        ? html`<${Action} label=${t("Pause")} send=${send} command="pause_room" />`
        : html`<${Action} label=${t("Resume")} send=${send} command="resume_room" />`}
    </div>
    <${Rules} room=${room} send=${send} />
    <${Interject} send=${send} />
  </section>`;
}

function Person({ id, client, room, send, online, talking }) {
  const [removing, setRemoving] = useState(false);
  const [reason, setReason] = useState("");
  const muted = room.muted.includes(id);
  const name = nameOf(client, id);
  const remove = async (event) => {
    event.preventDefault();
    const ack = await send("remove_participant", { participant: id, reason });
    if (ack.ok) setRemoving(false);
  };
  return html`<li>
    <span class=${`presence ${online ? "online" : "offline"}`}>${online ? t("online") : t("offline")}</span>
    <span class="who">${name}</span><${SpeakingMark} talking=${talking} />
    ${muted && html` <span class="badge">${t("muted")}</span>`}
    <details class="menu">
      <summary>${t("Moderate")}<span class="visually-hidden"> ${name}</span></summary>
      <div class="menu-body">
        ${muted
          ? html`<${Action} label=${t("Unmute {name}", { name })} send=${send}
              command="unmute_participant" fields=${{ participant: id }} />`
          : html`<${Action} label=${t("Mute {name}", { name })} send=${send}
              command="mute_participant" fields=${{ participant: id }} />`}
        ${!removing && html`<button type="button" onClick=${() => setRemoving(true)}>
          ${t("Remove {name}", { name })}</button>`}
        ${removing && html`<form class="row" onSubmit=${remove}>
          <label for=${`remove-${id}`}>${t("Reason (kept on the record)")}</label>
          <input id=${`remove-${id}`} required maxlength="200" value=${reason}
            onInput=${(e) => setReason(e.target.value)} />
          <button type="submit" class="danger">${t("Remove")}</button>
          <button type="button" onClick=${() => setRemoving(false)}>${t("Cancel")}</button></form>`}
      </div></details>
  </li>`;
}

function Rules({ room, send }) {
  const [minutes, setMinutes] = useState(String(room.rules.turn_limit_ms / 60000));
  const submit = (event) => {
    event.preventDefault();
    send("set_room_rules", { turn_limit_ms: Math.round(Number(minutes) * 60000) });
  };
  return html`<form class="row rules-form" onSubmit=${submit}>
    <label for="turn-minutes">${t("Turn length (minutes)")}</label>
    <input id="turn-minutes" type="number" min="0.5" max="30" step="0.5" value=${minutes}
      onInput=${(e) => setMinutes(e.target.value)} />
    <button type="submit">${t("Set")}</button>
    <label for="queue-policy">${t("Queue order")}</label>
    <select id="queue-policy" value=${room.rules.policy}
      onChange=${(e) => send("set_room_rules", { policy: e.target.value })}>
      <option value="first_come">${t("First come, first served")}</option>
      <option value="equity">${t("Least heard first")}</option>
    </select>
    <label class="choice toggle"><input type="checkbox" checked=${room.rules.auto}
      onChange=${(e) => send("set_room_rules", { auto: e.target.checked })} />
      ${t("Give the floor automatically")}</label>
    <label class="choice toggle"><input type="checkbox" checked=${room.rules.open_floor}
      onChange=${(e) => send("set_room_rules", { open_floor: e.target.checked })} />
      ${t("Open floor: every juror may speak without raising a hand")}</label>
  </form>`;
}

function Interject({ send }) {
  const [text, setText] = useState("");
  const submit = async (event) => {
    event.preventDefault();
    const ack = await send("interject", { text });
    if (ack.ok) setText("");
  };
  return html`<form class="row" onSubmit=${submit}>
    <label for="interject-text">${t("Say to the room")}</label>
    <input id="interject-text" value=${text} required maxlength="2000"
      onInput=${(e) => setText(e.target.value)} />
    <button type="submit">${t("Send")}</button></form>`;
}
