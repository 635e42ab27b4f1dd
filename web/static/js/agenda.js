// The agenda: time-boxed items run one after another, with the time left of the running one.
import { useState } from "preact/hooks";
import { formatDuration, t } from "./i18n.js";
import { Action, html, N_, timeLeft } from "./ui.js";

const STATUS = { pending: N_("to come"), running: N_("now"), done: N_("done") };

export function Agenda({ room, now, send, moderator }) {
  if (!moderator && room.agenda.length === 0) return null;
  const running = room.agenda.find((item) => item.status === "running");
  return html`<section class="card agenda" aria-labelledby="agenda-heading">
    <h3 id="agenda-heading">${t("Agenda")}</h3>
    <ol class="agenda-list">${room.agenda.map((item) => html`<li class=${`agenda-${item.status}`}>
      <span>${item.title}</span> <span class="badge">${t(STATUS[item.status])}</span>
      ${item.status === "running" && item.deadline_ms !== null && html` <time>
        ${formatDuration(timeLeft(room, item.deadline_ms, now))}</time>`}</li>`)}</ol>
    ${moderator && html`<div class="row">
      <${Action} label=${running ? t("Next item") : t("Start the agenda")} send=${send}
        command="advance_agenda" />
      ${running && html`<${Action} label=${t("5 more minutes")} send=${send}
        command="extend_agenda_item" fields=${{ by_ms: 300000 }} />`}
    </div><${AddItem} send=${send} />`}
  </section>`;
}

function AddItem({ send }) {
  const [title, setTitle] = useState("");
  const [minutes, setMinutes] = useState("15");
  const submit = async (event) => {
    event.preventDefault();
    const ack = await send("add_agenda_item", { title, duration_ms: Number(minutes) * 60000 });
    if (ack.ok) setTitle("");
  };
  return html`<form class="row" onSubmit=${submit}>
    <label for="item-title">${t("New item")}</label>
    <input id="item-title" value=${title} required maxlength="200"
      onInput=${(e) => setTitle(e.target.value)} />
    <label for="item-minutes">${t("Minutes")}</label>
    <input id="item-minutes" type="number" min="1" max="600" value=${minutes}
      onInput=${(e) => setMinutes(e.target.value)} />
    <button type="submit">${t("Add")}</button></form>`;
}
