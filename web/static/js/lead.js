// The lead facilitator's view: every room at a glance, breakout rounds, broadcasts, the recall.
import { useState } from "preact/hooks";
import { roomFairness } from "./fairness.js";
import { formatDuration, t } from "./i18n.js";
import { Action, html, nameOf, roomLabel, timeLeft } from "./ui.js";
import { RoomView } from "./room.js";
import { PLENARY_ROOM } from "./state.js";
import { SpeakingMark } from "./voicebar.js";
import { MergeProposals, PlenaryMap } from "./plenarymap.js";

// Alarms: a room where speaking is this unequal, or a hand has waited this long, needs a look;
// inequality only means something once people have talked for a while.
const UNEQUAL_GINI = 0.5;
const ENOUGH_TALK_MS = 5 * 60_000;
const LONG_WAIT_MS = 3 * 60_000;

export function LeadView({ view, now, send, voice }) {
  const [roomId, setRoomId] = useState(null);
  const { client } = view;
  const rooms = Object.values(client.rooms).filter((room) => !room.closed);
  if (roomId && client.rooms[roomId]) {
    return html`<button type="button" class="link" onClick=${() => setRoomId(null)}>
        ${t("← All rooms")}</button>
      <${RoomView} view=${view} roomId=${roomId} now=${now} send=${send} voice=${voice} />`;
  }
  return html`
    <${Round} client=${client} now=${now} send=${send}
      online=${view.presence[PLENARY_ROOM] ?? []} />
    <${MergeProposals} client=${client} send=${send} />
    <${PlenaryMap} client=${client} />
    <section class="card" aria-labelledby="rooms-heading">
      <h2 id="rooms-heading">${t("All rooms")}</h2>
      ${!voice.available && html`<p class="voice-off">${t("Voice is off on this server")}${" · "}
        ${t("Typing works as usual.")}</p>`}
      <div class="room-cards">${rooms.map((room) => html`<${RoomCard} client=${client}
        room=${room} now=${now} present=${view.presence[room.id] ?? []} voice=${voice}
        open=${() => setRoomId(room.id)} />`)}</div>
    </section>
    <${BroadcastForm} send=${send} />`;
}

function alarms(client, room, now, present) {
  const found = [];
  const figures = roomFairness(client, room.id, now);
  if (room.paused_at_ms !== null) found.push(t("paused"));
  if (room.locked) found.push(t("locked"));
  const talk = figures.speakers.reduce((sum, s) => sum + s.spoken_ms, 0);
  if (talk >= ENOUGH_TALK_MS && figures.gini >= UNEQUAL_GINI) found.push(t("unequal speaking time"));
  if (room.queue.some((entry) => now - entry.raised_at_ms >= LONG_WAIT_MS)) found.push(t("long wait"));
  if (room.facilitators.length > 0 && !room.facilitators.some((id) => present.includes(id))) {
    found.push(t("no facilitator online"));
  }
  return { found, figures };
}

function RoomCard({ client, room, now, present, open, voice }) {
  const { found, figures } = alarms(client, room, now, present);
  const floor = room.floor;
  return html`<article class=${`room-card${found.length ? " needs-help" : ""}`}>
    <h3>${roomLabel(room)}</h3>
    <p>${floor ? t("{name} speaks · {left} left", { name: nameOf(client, floor.speaker),
      left: formatDuration(timeLeft(room, floor.deadline_ms, now)) }) : t("The floor is free.")}</p>
    <p>${[
      t("Waiting: {count}", { count: room.queue.length + room.replies.length }),
      t("Gini: {gini}", { gini: figures.gini.toFixed(2) }),
      t("Online: {count}", { count: present.length }),
    ].join(" · ")}</p>
    ${voice.available && html`<${RoomVoice} client=${client} talking=${voice.talking[room.id]} />`}
    ${found.length > 0 && html`<p class="alarms"><strong>${t("Needs attention:")}</strong>${" "}
      ${found.join(", ")}</p>`}
    <button type="button" onClick=${open}>${t("Open {room}", { room: roomLabel(room) })}</button>
  </article>`;
}

/** Whether a room's voice is running (the server tells who talks there), and who speaks now. */
function RoomVoice({ client, talking }) {
  if (talking === undefined) return html`<p class="muted">${t("No voice in this room yet")}</p>`;
  if (talking.length === 0) return html`<p>${t("Voice on · nobody is speaking")}</p>`;
  return html`<p>${t("Voice on · speaking now:")}${" "}
    ${talking.map((id, index) => html`${index > 0 ? ", " : ""}${nameOf(client, id)}<${SpeakingMark}
      talking=${true} />`)}</p>`;
}

function Round({ client, now, send, online }) {
  const round = client.assembly.round;
  const [count, setCount] = useState("2");
  const [minutes, setMinutes] = useState("20");
  const [fromMap, setFromMap] = useState(false);
  const mapReady = (client.assembly.synthesis?.entries.length ?? 0) > 0;
  if (!round) {
    const propose = (event) => {
      event.preventDefault();
      send("open_round", { room_count: Number(count), seed: Math.floor(Math.random() * 2 ** 31) });
    };
    return html`<section class="card round" aria-labelledby="round-heading">
      <h2 id="round-heading">${t("Breakout round")}</h2>
      <form class="row" onSubmit=${propose}>
        <label for="room-count">${t("Number of rooms")}</label>
        <input id="room-count" type="number" min="1" max="200" value=${count}
          onInput=${(e) => setCount(e.target.value)} />
        <button type="submit" class="primary">${t("Propose a balanced allocation")}</button>
      </form></section>`;
  }
  if (!round.started) {
    const start = (event) => {
      event.preventDefault();
      send("start_round", { duration_ms: Math.round(Number(minutes) * 60000),
        ...(fromMap && mapReady ? { from_map: true } : {}) });
    };
    return html`<section class="card round" aria-labelledby="round-heading">
      <h2 id="round-heading">${t("Proposed breakout round")}</h2>
      <div class="room-cards">${round.rooms.map((room) => html`<article class="room-card">
        <h3>${roomLabel(room)}</h3>
        <p class="muted">${t("Facilitated by {names}", { names: room.facilitators.map((id) => nameOf(client, id)).join(", ") || "—" })}</p>
        <ul class="allocation">${room.jurors.map((id) => html`<li>
          <span class="who">${nameOf(client, id)}</span>
          <span class=${`presence ${online.includes(id) ? "online" : "offline"}`}>
            ${online.includes(id) ? t("online") : t("offline")}</span>
          <span class="attributes muted">${Object.values(client.assembly.participants[id]?.attributes ?? {}).join(" · ")}</span>
          <${MoveTo} id=${id} rooms=${round.rooms} current=${room.room_id} send=${send}
            name=${nameOf(client, id)} /></li>`)}</ul>
      </article>`)}</div>
      <form class="row" onSubmit=${start}>
        <label for="round-minutes">${t("Minutes")}</label>
        <input id="round-minutes" type="number" min="1" max="600" value=${minutes}
          onInput=${(e) => setMinutes(e.target.value)} />
        ${mapReady && html`<label class="carry-choice"><input type="checkbox" checked=${fromMap}
          onChange=${(e) => setFromMap(e.target.checked)} /> ${t("Start from the plenary's map")}</label>`}
        <button type="submit" class="primary">${t("Start the round")}</button>
        <${Action} label=${t("Withdraw the proposal")} send=${send} command="close_round" />
      </form></section>`;
  }
  return html`<section class="card round" aria-labelledby="round-heading">
    <h2 id="round-heading">${t("Breakout round running")}</h2>
    ${round.deadline_ms !== null && html`<p class="time-left">${t("Time left in every room:")}
      <time>${formatDuration(round.deadline_ms - now)}</time></p>`}
    <form class="row" onSubmit=${(event) => { event.preventDefault();
        send("set_round_timer", { duration_ms: Math.round(Number(minutes) * 60000) }); }}>
      <label for="timer-minutes">${t("One timer for all rooms (minutes)")}</label>
      <input id="timer-minutes" type="number" min="1" max="600" value=${minutes}
        onInput=${(e) => setMinutes(e.target.value)} />
      <button type="submit">${t("Set the timer")}</button>
    </form>
    <${Recall} client=${client} round=${round} now=${now} send=${send} />
  </section>`;
}

// The warning rooms get before a recall announced ahead.
const RECALL_WARNING_MS = 60_000;

/** The recall: announced a minute ahead (rooms see it count down), or now after a check. */
function Recall({ client, round, now, send }) {
  const [confirming, setConfirming] = useState(false);
  const talking = round.rooms.filter((room) => client.rooms[room.room_id]?.floor).length;
  const recallNow = () => {
    setConfirming(false);
    return send("close_round");
  };
  if (confirming) {
    return html`<div class="confirm card" role="group" aria-labelledby="recall-confirm">
      <p id="recall-confirm">${talking > 0
        ? t("Recall everyone now? Someone has the floor in {count} of {rooms} rooms.",
            { count: talking, rooms: round.rooms.length })
        : t("Recall everyone now?")}</p>
      <div class="row">
        <button type="button" class="primary" onClick=${recallNow}>${t("Yes, recall now")}</button>
        <button type="button" onClick=${() => setConfirming(false)}>${t("Not yet")}</button>
      </div></div>`;
  }
  if (round.recall_at_ms !== null) {
    return html`<p class="time-left recall-time" role="status">${t("Everyone comes back in {time}.",
        { time: formatDuration(round.recall_at_ms - now) })}</p>
      <div class="row">
        <button type="button" onClick=${() => setConfirming(true)}>${t("Recall now")}</button>
        <${Action} label=${t("Cancel the recall")} send=${send} command="cancel_recall" />
      </div>`;
  }
  return html`<div class="row">
    <${Action} className="primary" label=${t("Recall everyone in one minute")} send=${send}
      command="close_round" fields=${{ after_ms: RECALL_WARNING_MS }} />
    <button type="button" onClick=${() => setConfirming(true)}>${t("Recall now")}</button>
  </div>`;
}

function MoveTo({ id, rooms, current, send, name }) {
  return html`<label class="visually-hidden" for=${`move-${id}`}>${t("Move {name} to", { name })}</label>
    <select id=${`move-${id}`} value=${current}
      onChange=${(e) => send("adjust_allocation", { participant: id, to_room: e.target.value })}>
      ${rooms.map((room) => html`<option value=${room.room_id}>${roomLabel(room)}</option>`)}
    </select>`;
}

function BroadcastForm({ send }) {
  const [text, setText] = useState("");
  const submit = async (event) => {
    event.preventDefault();
    const ack = await send("broadcast", { text });
    if (ack.ok) setText("");
  };
  return html`<section class="card" aria-labelledby="broadcast-heading">
    <h2 id="broadcast-heading">${t("Broadcast to every room")}</h2>
    <form class="row" onSubmit=${submit}>
      <label for="broadcast-text">${t("Message")}</label>
      <input id="broadcast-text" value=${text} required maxlength="2000"
        onInput=${(e) => setText(e.target.value)} />
      <button type="submit" class="primary">${t("Broadcast")}</button></form>
  </section>`;
}
