// The lead facilitator's view: every room at a glance, breakout rounds, broadcasts, the recall.
import { useState } from "preact/hooks";
import { figuresMeanSomething, quietestStratum, roomFairness, strata } from "./fairness.js";
import { formatDuration, t } from "./i18n.js";
import { Action, html, nameOf, roomLabel, timeLeft } from "./ui.js";
import { RoomView } from "./room.js";
import { PLENARY_ROOM } from "./state.js";
import { SpeakingMark } from "./voicebar.js";
import { PastRoomView, PastRoundsPicker, roundKey, usePastRounds } from "./pastrounds.js";
import { MergeProposals, PlenaryMap } from "./plenarymap.js";

// Inequality only means something once people have talked for a while.
const ENOUGH_TALK_MS = 5 * 60_000;
const MINUTE_MS = 60_000;

export function LeadView({ view, now, send, voice }) {
  const [roomId, setRoomId] = useState(null);
  const { client } = view;
  const rooms = Object.values(client.rooms).filter((room) => !room.closed);
  const past = usePastRounds(send, roundKey(client));
  if (past.room) {
    return html`<${PastRoomView} client=${client} you=${view.you} room=${past.room} now=${now}
      onBack=${past.close} />`;
  }
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
        send=${send} open=${() => setRoomId(room.id)} />`)}</div>
    </section>
    <${PastRoundsPicker} past=${past} />
    <${AlarmSettings} client=${client} send=${send} />
    <${BroadcastForm} send=${send} />`;
}

/**
 * What the lead's card shows of a room, and the alarms its figures raise against the thresholds
 * the lead set (`set_fairness_alarms`, in the assembly view; null: that alarm is off).
 */
export function roomAlarms(client, room, now, present) {
  const found = [];
  const figures = roomFairness(client, room.id, now);
  const limits = client.assembly?.alarms ?? {};
  const shares = strata(client, figures);
  const quiet = quietestStratum(shares);
  const talk = figures.speakers.reduce((sum, s) => sum + s.spoken_ms, 0);
  const waiting = room.queue.reduce((longest, entry) => Math.max(longest, now - entry.raised_at_ms), 0);
  const longestWait = figures.speakers.reduce((longest, s) => Math.max(longest, s.longest_wait_ms), 0);
  if (room.paused_at_ms !== null) found.push(t("paused"));
  if (room.locked) found.push(t("locked"));
  const open = room.opened_at_ms === null ? 0 : now - room.opened_at_ms;
  if (limits.unspoken_after_ms != null && open >= limits.unspoken_after_ms
      && figures.not_spoken.length > 0) {
    found.push(t("{count} of {total} have not spoken after {minutes} min", {
      count: figures.not_spoken.length, total: figures.speakers.length,
      minutes: Math.round(open / MINUTE_MS) }));
  }
  if (limits.max_gini != null && talk >= ENOUGH_TALK_MS && figures.gini >= limits.max_gini) {
    found.push(t("unequal speaking time"));
  }
  if (limits.max_wait_ms != null && waiting >= limits.max_wait_ms) found.push(t("long wait"));
  if (limits.min_stratum_ratio != null && quiet && talk >= ENOUGH_TALK_MS
      && quiet.ratio < limits.min_stratum_ratio) {
    found.push(t("{stratum} has {speaking} of the floor for {seats} of the seats", {
      stratum: `${quiet.attribute}: ${quiet.value}`, speaking: percent(quiet.speaking_share),
      seats: percent(quiet.seat_share) }));
  }
  if (room.facilitators.length > 0 && !room.facilitators.some((id) => present.includes(id))) {
    found.push(t("no facilitator online"));
  }
  return { found, figures, quiet, longestWait };
}

const percent = (/** @type {number} */ share) => `${Math.round(share * 100)} %`;

function RoomCard({ client, room, now, present, open, voice, send }) {
  const { found, figures, quiet, longestWait } = roomAlarms(client, room, now, present);
  const floor = room.floor;
  const spoke = figures.speakers.length - figures.not_spoken.length;
  const meaningful = figuresMeanSomething(figures);
  return html`<article class=${`room-card${found.length ? " needs-help" : ""}`}
      data-room=${room.id}>
    <h3>${roomLabel(room)}</h3>
    <p>${floor ? t("{name} speaks · {left} left", { name: nameOf(client, floor.speaker),
      left: formatDuration(timeLeft(room, floor.deadline_ms, now)) }) : t("The floor is free.")}</p>
    <p class="figures">${[
      t("Have spoken: {count} of {total}", { count: spoke, total: figures.speakers.length }),
      t("Waiting: {count}", { count: room.queue.length + room.replies.length }),
      t("Longest wait: {time}", { time: formatDuration(longestWait) }),
      t("Online: {count}", { count: present.length }),
      // Inequality figures only once they say something (three speakers or two minutes).
      ...(meaningful ? [t("Gini: {gini}", { gini: figures.gini.toFixed(2) })] : []),
    ].join(" · ")}</p>
    ${quiet && meaningful && html`<p class="muted">${t("Quietest stratum: {stratum}, {speaking} of the floor for {seats} of the seats",
      { stratum: `${quiet.attribute}: ${quiet.value}`, speaking: percent(quiet.speaking_share),
        seats: percent(quiet.seat_share) })}</p>`}
    ${voice.available && html`<${RoomVoice} client=${client} talking=${voice.talking[room.id]} />
      <p class="muted">${t("Voice heard: {time} · voiced Gini: {gini}", {
        time: formatDuration(figures.speakers.reduce((sum, s) => sum + s.voiced_ms, 0)),
        gini: figures.voiced_gini.toFixed(2) })}</p>`}
    ${found.length > 0 && html`<p class="alarms" role="status"><strong>${t("Needs attention:")}</strong>${" "}
      ${found.join(", ")}</p>`}
    <div class="row">
      <button type="button" onClick=${open}>${t("Open {room}", { room: roomLabel(room) })}</button>
      ${room.facilitators.length > 0 && html`<${NoteForm} room=${room} send=${send} />`}
    </div>
  </article>`;
}

/** A private note to the room's facilitators: only they, the lead and the organiser read it. */
function NoteForm({ room, send }) {
  const [writing, setWriting] = useState(false);
  const [text, setText] = useState("");
  if (!writing) {
    return html`<button type="button" onClick=${() => setWriting(true)}>
      ${t("Note to the facilitator")}</button>`;
  }
  const submit = async (event) => {
    event.preventDefault();
    const ack = await send("send_facilitator_note", { room: room.id, text });
    if (ack.ok) {
      setText("");
      setWriting(false);
    }
  };
  const id = `note-${room.id}`;
  return html`<form class="note-form" onSubmit=${submit}>
    <label for=${id}>${t("Private note to the facilitator of {room}", { room: roomLabel(room) })}</label>
    <textarea id=${id} required maxlength="2000" value=${text}
      onInput=${(e) => setText(e.target.value)}></textarea>
    <div class="row"><button type="submit" class="primary">${t("Send the note")}</button>
      <button type="button" onClick=${() => setWriting(false)}>${t("Cancel")}</button></div>
  </form>`;
}

/** The thresholds of the alarms, for the whole assembly: recorded, so the record says them. */
function AlarmSettings({ client, send }) {
  const limits = client.assembly?.alarms ?? {};
  const [shown, setShown] = useState(false);
  const minutes = (ms) => (ms == null ? "" : String(ms / MINUTE_MS));
  const [unspoken, setUnspoken] = useState(minutes(limits.unspoken_after_ms));
  const [gini, setGini] = useState(limits.max_gini == null ? "" : String(limits.max_gini));
  const [wait, setWait] = useState(minutes(limits.max_wait_ms));
  const [ratio, setRatio] = useState(limits.min_stratum_ratio == null ? "" : String(limits.min_stratum_ratio));
  const orNull = (value, scale = 1) => (value.trim() === "" ? null : Number(value) * scale);
  const submit = (event) => {
    event.preventDefault();
    send("set_fairness_alarms", {
      unspoken_after_ms: orNull(unspoken, MINUTE_MS), max_gini: orNull(gini),
      max_wait_ms: orNull(wait, MINUTE_MS), min_stratum_ratio: orNull(ratio),
    });
  };
  // A section that opens, not <details>: that would be one more ARIA group on the page.
  return html`<section class="card alarm-settings" aria-labelledby="alarm-heading">
    <h2 id="alarm-heading"><button type="button" class="link" aria-expanded=${shown}
      aria-controls="alarm-form" onClick=${() => setShown(!shown)}>${t("Alarm thresholds")}</button></h2>
    ${shown && html`<p class="muted">${t("An empty field turns that alarm off.")}</p>
    <form id="alarm-form" class="grid-form" onSubmit=${submit}>
      <label for="alarm-unspoken">${t("Jurors who have not spoken after (minutes)")}</label>
      <input id="alarm-unspoken" type="number" min="1" max="1440" value=${unspoken}
        onInput=${(e) => setUnspoken(e.target.value)} />
      <label for="alarm-gini">${t("Gini of speaking time at least (0 to 1)")}</label>
      <input id="alarm-gini" type="number" min="0.01" max="1" step="0.01" value=${gini}
        onInput=${(e) => setGini(e.target.value)} />
      <label for="alarm-wait">${t("A hand up for (minutes)")}</label>
      <input id="alarm-wait" type="number" min="1" max="1440" value=${wait}
        onInput=${(e) => setWait(e.target.value)} />
      <label for="alarm-ratio">${t("Quietest stratum below this share of its fair time (0 to 1)")}</label>
      <input id="alarm-ratio" type="number" min="0.01" max="1" step="0.01" value=${ratio}
        onInput=${(e) => setRatio(e.target.value)} />
      <button type="submit" class="primary">${t("Set the thresholds")}</button>
    </form>`}
  </section>`;
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
          <span class="attributes muted">${Object.values(client.people?.[id]?.attributes ?? {}).join(" · ")}</span>
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
        <button type="button" class="danger" onClick=${recallNow}>${t("Yes, recall now")}</button>
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
