// One room as its people see it: the floor, the queue, the transcript, the argument map, polls,
// the agenda; and, for its facilitators, the controls and the fairness panel.
import { useEffect, useState } from "preact/hooks";
import { formatDuration, formatTime, placeText, t } from "./i18n.js";
import { Action, html, nameOf, roomLabel, timeLeft } from "./ui.js";
import { ArgumentMap } from "./map.js";
import { Polls } from "./polls.js";
import { Agenda } from "./agenda.js";
import { FairnessPanel, ModerationPanel } from "./moderation.js";
import { VoiceBar } from "./voicebar.js";
import { ListenBar } from "./listenbar.js";
import { AtAGlance, waitedText } from "./glance.js";
import { CarryPanel, PlenaryMap } from "./plenarymap.js";
import { PLENARY_ROOM } from "./state.js";

export function RoomView({ view, roomId, now, send, voice }) {
  const { client, you } = view;
  const room = client.rooms[roomId];
  const role = you.role;
  const moderator = role === "facilitator" || role === "lead";
  const roomSend = (command, fields = {}) => send(command, { room: roomId, ...fields });
  // Observers read only; nobody posts in a room that has closed.
  const contributor = role !== "observer" && !room.closed;
  // A muted juror's page disables what muting forbids: the hand, replies, posts.
  const muted = role === "juror" && room.muted.includes(you.participant);
  const ctx = { client, room, you, now, send: roomSend, moderator, juror: role === "juror",
                contributor, muted, present: view.presence[roomId] ?? [],
                talking: voice.talking[roomId] ?? [] };
  return html`
    <section class="room" aria-labelledby=${`room-${roomId}`}>
      <h2 id=${`room-${roomId}`} class="room-name">${roomLabel(room)}
        ${room.closed && html` <span class="badge">${t("closed")}</span>`}
        ${room.locked && html` <span class="badge">${t("locked")}</span>`}
        ${room.paused_at_ms !== null && html` <span class="badge">${t("paused")}</span>`}</h2>
      <${PinnedLine} ...${ctx} />
      <${RoundLine} client=${client} roomId=${roomId} now=${now} />
      ${moderator && html`<${AtAGlance} client=${client} room=${room} now=${now} />`}
      <div class="room-grid">
        <div class="stage">
          ${role !== "observer" && html`<${VoiceBar} voice=${voice} room=${room} you=${you}
            client=${client} moderator=${moderator} />`}
          ${role === "observer" && html`<${ListenBar} voice=${voice} room=${room}
            client=${client} />`}
          <${Floor} ...${ctx} />
          ${ctx.juror && html`<${HandControls} ...${ctx} />`}
          ${moderator && html`<${FloorControls} ...${ctx} />`}
          <${Transcript} ...${ctx} />
        </div>
        <div class="side">
          ${!moderator && html`<${PeopleHere} ...${ctx} observer=${role === "observer"} />`}
          ${moderator && room.notes.length > 0 && html`<${LeadNotes} ...${ctx} />`}
          <${Queue} ...${ctx} />
          <${Agenda} ...${ctx} />
          <${Polls} ...${ctx} />
          ${moderator && html`<${FairnessPanel} ...${ctx} />`}
          ${moderator && html`<${ModerationPanel} ...${ctx} />`}
          ${roomId !== PLENARY_ROOM && html`<${CarryPanel} ...${ctx} />`}
        </div>
        <div class="map-column">
          ${roomId === PLENARY_ROOM && html`<${PlenaryMap} client=${client} />`}
          <${ArgumentMap} ...${ctx} />
        </div>
      </div>
    </section>`;
}

/** The lead's private notes to this room's facilitators, newest first. */
function LeadNotes({ client, room }) {
  return html`<section class="card lead-notes" aria-labelledby=${`notes-${room.id}`}>
    <h3 id=${`notes-${room.id}`}>${t("Notes from the lead")}</h3>
    <p class="muted">${t("Only the facilitators of this room and the lead see these.")}</p>
    <ul>${[...room.notes].reverse().map((note) => html`<li>
      <time>${formatTime(note.at_ms)}</time> ${note.text}
      <span class="muted"> — ${nameOf(client, note.author)}</span></li>`)}</ul>
  </section>`;
}

/**
 * On a phone, the one line that stays in view: who has the floor and the time left, and the
 * person's own place. It repeats what the floor card says, so screen readers skip it.
 */
function PinnedLine({ client, room, you, now }) {
  const narrow = useNarrow();
  if (!narrow) return null;
  const floor = room.floor;
  const me = you.participant;
  const place = room.queue.findIndex((entry) => entry.participant === me) + 1;
  const speaker = !floor ? t("Floor: free")
    : floor.speaker === me ? t("Floor: you")
    : t("Floor: {name}", { name: nameOf(client, floor.speaker) });
  return html`<div class="pinned" aria-hidden="true">
    <span>${speaker}${floor && html` · <time>${formatDuration(timeLeft(room, floor.deadline_ms, now))}</time>`}</span>
    ${place > 0 && html`<span>${t("In line: {place}", { place })}</span>`}
  </div>`;
}

// The width under which the page is laid out for a phone (palabre.css says the same).
const NARROW = window.matchMedia("(max-width: 760px)");

/** Whether the window is phone-narrow now, following rotations and resizes. */
function useNarrow() {
  const [narrow, setNarrow] = useState(NARROW.matches);
  useEffect(() => {
    const changed = () => setNarrow(NARROW.matches);
    NARROW.addEventListener("change", changed);
    return () => NARROW.removeEventListener("change", changed);
  }, []);
  return narrow;
}

/**
 * In a breakout room, for everyone in it: the round's time left, and the recall when the lead
 * announced one, counting down, so nobody is cut off mid-sentence by surprise.
 */
export function RoundLine({ client, roomId, now }) {
  const round = client.assembly.round;
  if (!round?.started || !round.rooms.some((room) => room.room_id === roomId)) return null;
  if (round.recall_at_ms !== null) {
    return html`<p class="round-line recall" role="alert">
      ${t("Everyone goes back to the plenary in {time}: finish your point.",
          { time: formatDuration(round.recall_at_ms - now) })}</p>`;
  }
  if (round.deadline_ms === null) {
    return html`<p class="round-line">${t("Breakout round: the lead will call everyone back.")}</p>`;
  }
  return html`<p class="round-line">${t("Breakout round: {time} left.",
    { time: formatDuration(round.deadline_ms - now) })}</p>`;
}

/**
 * Who is in the room and who facilitates it, for jurors and observers (facilitators have the
 * fuller list with its controls). Observers are not told who is online.
 */
function PeopleHere({ client, room, you, present, observer }) {
  const facilitators = room.facilitators.map((id) => nameOf(client, id)).join(", ") || "—";
  return html`<section class="card people-here" aria-labelledby=${`people-${room.id}`}>
    <h3 id=${`people-${room.id}`}>${t("In this room")}</h3>
    <p>${t("Facilitated by {names}", { names: facilitators })}</p>
    <ul class="people-list">${room.jurors.map((id) => html`<li>
      <span class="who">${nameOf(client, id)}${id === you.participant ? ` (${t("you")})` : ""}</span>
      ${!observer && html` <span class=${`presence ${present.includes(id) ? "online" : "offline"}`}>
        ${present.includes(id) ? t("online") : t("offline")}</span>`}</li>`)}</ul>
  </section>`;
}

function Floor({ client, room, you, now }) {
  const floor = room.floor;
  if (!floor) {
    return html`<section class="floor card" aria-label=${t("The floor")}>
      <p class="floor-speaker">${t("The floor is free.")}</p></section>`;
  }
  const left = timeLeft(room, floor.deadline_ms, now);
  const warning = (room.paused_at_ms ?? now) >= floor.warning_at_ms;
  const mine = floor.speaker === you.participant;
  return html`<section class=${`floor card${warning ? " warning" : ""}${mine ? " mine" : ""}`}
      aria-label=${t("The floor")}>
    <p class="floor-speaker">${mine ? t("You have the floor.")
      : t("{name} has the floor.", { name: nameOf(client, floor.speaker) })}
      ${floor.kind === "reply" && html` <span class="badge">${t("reply")}</span>`}</p>
    <p class="time-left"><span class="visually-hidden">${t("Time left:")} </span>
      <time>${formatDuration(left)}</time>
      ${room.paused_at_ms !== null && html` <span class="badge">${t("paused")}</span>`}</p>
  </section>`;
}

function HandControls({ room, you, send }) {
  const me = you.participant;
  const place = room.queue.findIndex((entry) => entry.participant === me) + 1;
  const speaking = room.floor?.speaker === me;
  const replying = room.replies.some((entry) => entry.participant === me);
  const canReply = room.floor && !speaking && room.floor.kind === "turn";
  const [text, setText] = useState("");
  const muted = room.muted.includes(me);
  const openFloor = room.rules.open_floor && !muted;
  if (muted && !speaking) {
    // Said at once, with what it stops, and gone the moment a facilitator unmutes.
    const reason = room.mute_reasons?.[me] ?? "";
    return html`<section class="hand card muted-state" aria-label=${t("Your hand")}>
      <p role="status"><strong>${t("A facilitator muted you in this room.")}</strong>${" "}
        ${reason && html`<span class="mute-reason">${t("Reason: {reason}", { reason })}</span>${" "}`}
        ${t("You cannot raise your hand, reply or post until they unmute you.")}</p>
      <button type="button" class="hand-button" disabled>${t("Raise my hand")}</button>
    </section>`;
  }
  if (speaking || openFloor) {
    const say = async (event) => {
      event.preventDefault();
      const ack = await send("speak", { text });
      if (ack.ok) setText("");
    };
    return html`<section class="hand card" aria-label=${speaking ? t("Your turn") : t("Open floor")}>
      <form onSubmit=${say} class="speak-form">
        <label for="speak-text">${t("What you say (shown to everyone as you send it)")}</label>
        <textarea id="speak-text" rows="3" maxlength="2000" value=${text}
          aria-describedby="speak-keys" onKeyDown=${sendOnEnter}
          onInput=${(e) => setText(e.target.value)}></textarea>
        <p id="speak-keys" class="muted small">${t("Enter sends; Shift+Enter starts a new line.")}</p>
        <div class="row">
          <button type="submit" class="primary">${t("Send")}</button>
          ${speaking && html`<${Action} label=${t("Yield the floor")} send=${send}
            command="yield_floor" />`}
        </div>
      </form>
      ${!speaking && (place > 0
        ? html`<${Action} label=${t("Lower my hand")} send=${send} command="lower_hand" />`
        : html`<${Action} label=${t("Raise my hand")} send=${send} command="raise_hand" />`)}
      </section>`;
  }
  return html`<section class="hand card" aria-label=${t("Your hand")}>
    ${place > 0
      ? html`<${Action} className="hand-button raised" label=${t("Lower my hand")}
          send=${send} command="lower_hand" />
        <p class="place">${placeText(place)}</p>`
      : html`<${Action} className="hand-button" label=${t("Raise my hand")}
          send=${send} command="raise_hand" />`}
    ${canReply && (replying
      ? html`<${Action} label=${t("Withdraw my reply")} send=${send} command="withdraw_reply" />`
      : html`<${Action} label=${t("Reply to the speaker")} send=${send} command="request_reply" />`)}
  </section>`;
}

function FloorControls({ room, send }) {
  const speaking = room.floor !== null;
  return html`<section class="card controls" aria-label=${t("Floor controls")}>
    <div class="row">
      ${!speaking && html`<${Action} className="primary" label=${t("Give the floor to the next")}
        send=${send} command="grant_floor" />`}
      ${speaking && html`<${Action} className="primary" label=${t("Next speaker")}
        send=${send} command="next_speaker" />`}
      ${speaking && html`<${Action} label=${t("30 more seconds")} send=${send}
        command="extend_turn" fields=${{ by_ms: 30000 }} />`}
      ${speaking && html`<${Action} className="danger" label=${t("End this turn")} send=${send}
        command="revoke_floor" />`}
    </div></section>`;
}

/** Enter sends a typed statement; Shift+Enter (or a composing keyboard) makes a new line. */
function sendOnEnter(event) {
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  event.target.form.requestSubmit();
}

function Queue({ client, room, you, now, send, moderator }) {
  const move = (index, offset) => {
    const order = room.queue.map((entry) => entry.participant);
    const [picked] = order.splice(index, 1);
    order.splice(index + offset, 0, picked);
    return send("reorder_queue", { order });
  };
  const lanes = [
    ...room.replies.map((entry) => ({ ...entry, lane: "reply" })),
    ...room.queue.map((entry) => ({ ...entry, lane: "queue" })),
  ];
  return html`<section class="card queue" aria-labelledby="queue-heading">
    <h3 id="queue-heading">${t("Waiting to speak")} <span class="count">(${lanes.length})</span></h3>
    ${lanes.length === 0 ? html`<p class="muted">${t("Nobody is waiting.")}</p>` : html`
    <ol class="queue-list">
      ${lanes.map((entry, index) => {
        const queueIndex = index - room.replies.length;
        const isMe = entry.participant === you.participant;
        return html`<li class=${isMe ? "me" : ""}>
          <span class="who">${nameOf(client, entry.participant)}${isMe ? ` (${t("you")})` : ""}</span>
          ${entry.lane === "reply" && html` <span class="badge">${t("reply")}</span>`}
          <span class="waited">${waitedText(now - entry.raised_at_ms)}</span>
          ${moderator && html`<span class="row small">
            ${!room.floor && html`<${Action} label=${t("Give the floor")} send=${send}
              command="grant_floor" fields=${{ participant: entry.participant }} />`}
            ${entry.lane === "queue" && queueIndex > 0 && html`<button type="button"
              onClick=${() => move(queueIndex, -1)}
              aria-label=${t("Move {name} up", { name: nameOf(client, entry.participant) })}>↑</button>`}
            ${entry.lane === "queue" && queueIndex < room.queue.length - 1 && html`<button
              type="button" onClick=${() => move(queueIndex, 1)}
              aria-label=${t("Move {name} down", { name: nameOf(client, entry.participant) })}>↓</button>`}
            ${entry.lane === "queue" && html`<${Action} label=${t("Remove")} send=${send}
              command="remove_from_queue" fields=${{ participant: entry.participant }} />`}
          </span>`}
        </li>`;
      })}
    </ol>`}
  </section>`;
}

function Transcript({ client, room }) {
  const turnId = room.floor?.turn_id;
  const statements = room.statements.slice(-50);
  return html`<section class="card transcript" aria-labelledby="transcript-heading">
    <h3 id="transcript-heading">${t("What is being said")}</h3>
    ${statements.length === 0 ? html`<p class="muted">${t("Nothing yet.")}</p>` : html`
    <ol class="statements">
      ${statements.map((s) => html`<li class=${s.turn_id === turnId ? "current" : ""}>
        <span class="who">${nameOf(client, s.speaker)}${s.kind === "interjection"
          ? ` (${t("facilitator")})` : ""}</span>
        <time>${formatTime(s.at_ms)}</time>
        <p class="said">${s.text}</p></li>`)}
    </ol>`}
  </section>`;
}
