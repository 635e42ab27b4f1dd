// Past rounds: what each breakout room produced, read back after the recall. The lead,
// facilitators and observers pick a closed room; the server answers `past_rounds` with its
// snapshot, shown read-only: the argument map, who spoke and for how long, the polls, and what
// was moderated. Nothing here can send a command to the room (it is closed: `room_closed`).
import { useEffect, useState } from "preact/hooks";
import { formatDuration, formatTime, t } from "./i18n.js";
import { html, nameOf, roomLabel } from "./ui.js";
import { ArgumentMap } from "./map.js";
import { Polls } from "./polls.js";
import { roomFairness } from "./fairness.js";
import { applyRoster } from "./state.js";

/**
 * The rounds that ran and closed, asked again whenever a round ends (`roundKey` changes).
 * @returns {{rounds: {round_id: string, rooms: {room_id: string, name: string}[]}[],
 *   open: (roomId: string) => Promise<void>, room: object | null, close: () => void}}
 */
export function usePastRounds(send, roundKey) {
  const [rounds, setRounds] = useState([]);
  const [room, setRoom] = useState(null);
  useEffect(() => {
    let gone = false;
    send("past_rounds", {}).then((ack) => { if (ack.ok && !gone) setRounds(ack.rounds); });
    return () => { gone = true; };
  }, [roundKey]);
  const open = async (roomId) => {
    const ack = await send("past_rounds", { room: roomId });
    if (ack.ok) {
      setRounds(ack.rounds);
      setRoom(ack.room);
    }
  };
  return { rounds, room, open, close: () => setRoom(null) };
}

/** What changes when a round starts or ends: the past rounds are asked for again then. */
export function roundKey(client) {
  const round = client.assembly?.round;
  return round ? `${round.id}:${round.started}` : "";
}

/** The picker: every past round's rooms in one list, and a button to read the one chosen. */
export function PastRoundsPicker({ past }) {
  const [chosen, setChosen] = useState("");
  if (past.rounds.length === 0) return null;
  const first = past.rounds.at(-1).rooms[0]?.room_id ?? "";
  const value = chosen || first;
  const open = (event) => {
    event.preventDefault();
    if (value) past.open(value);
  };
  return html`<section class="card past-rounds" aria-labelledby="past-rounds-heading">
    <h2 id="past-rounds-heading">${t("Past rounds")}</h2>
    <form class="row" onSubmit=${open}>
      <label for="past-room">${t("Room of a past round")}</label>
      <select id="past-room" value=${value} onChange=${(e) => setChosen(e.target.value)}>
        ${[...past.rounds].reverse().map((round, index) => html`<optgroup
            label=${t("Round {number}", { number: past.rounds.length - index })}>
          ${round.rooms.map((room) => html`<option value=${room.room_id}>
            ${t("Round {number}", { number: past.rounds.length - index })} · ${roomLabel(room)}
          </option>`)}</optgroup>`)}
      </select>
      <button type="submit">${t("Show what it produced")}</button>
    </form></section>`;
}

/** A closed room, read-only: what it produced, as it stood when the round ended. */
export function PastRoomView({ client: live, you, room: snapshot, now, onBack }) {
  // The snapshot names its own people: folded into the directory, as a live room's are.
  const { people, ...room } = snapshot;
  const client = applyRoster(live, people ?? {});
  const nothing = async () => ({ ok: false, error: "room_closed" });
  const ctx = { client, room, you, now, send: nothing, moderator: false, juror: false,
                contributor: false, present: [], talking: [] };
  return html`<section class="room past-room" aria-labelledby="past-room-heading">
    <button type="button" class="link" onClick=${onBack}>${t("← Back to the live rooms")}</button>
    <h2 id="past-room-heading" class="room-name">${roomLabel(room)}${" "}
      <span class="badge">${t("closed")}</span></h2>
    <p class="round-line">${t("A past room, read-only: what it produced before the recall.")}</p>
    <div class="room-grid">
      <div class="stage">
        <${SpeakingRecord} client=${client} room=${room} now=${now} />
        <${Said} client=${client} room=${room} />
      </div>
      <div class="side">
        ${room.polls.length === 0
          ? html`<section class="card polls"><h3>${t("Polls")}</h3>
              <p class="muted">${t("No poll in this room.")}</p></section>`
          : html`<${Polls} ...${ctx} />`}
        <${ModerationRecord} client=${client} room=${room} />
      </div>
      <div class="map-column"><${ArgumentMap} ...${ctx} /></div>
    </div></section>`;
}

/** Who spoke and for how long, and who never did. */
function SpeakingRecord({ client, room, now }) {
  const figures = roomFairness({ ...client, rooms: { [room.id]: room } }, room.id, now);
  const facilitators = room.facilitators.map((id) => nameOf(client, id)).join(", ") || "—";
  return html`<section class="card speaking-record" aria-labelledby="speaking-record-heading">
    <h3 id="speaking-record-heading">${t("Who spoke")}</h3>
    <p class="muted">${t("Facilitated by {names}", { names: facilitators })}</p>
    <ul class="speakers">${figures.speakers.map((s) => html`<li>
      <span class="who">${nameOf(client, s.participant)}</span>${" "}
      <span>${s.turns === 0 ? t("did not speak")
        : t("{time} · turns: {turns}", { turns: s.turns, time: formatDuration(s.spoken_ms) })}</span>
    </li>`)}</ul>
    <p>${t("{count} of {total} have not spoken.",
      { count: figures.not_spoken.length, total: figures.speakers.length })}</p>
  </section>`;
}

/** The statements typed in the room, all of them. */
function Said({ client, room }) {
  return html`<section class="card transcript" aria-labelledby="past-said-heading">
    <h3 id="past-said-heading">${t("What was said")}</h3>
    ${room.statements.length === 0 ? html`<p class="muted">${t("Nothing was typed.")}</p>` : html`
    <ol class="statements">${room.statements.map((s) => html`<li>
      <span class="who">${nameOf(client, s.speaker)}</span> <time>${formatTime(s.at_ms)}</time>
      <p class="said">${s.text}</p></li>`)}</ol>`}
  </section>`;
}

/** Posts hidden or restored, with their reasons, and who was still muted at the end, and why. */
function ModerationRecord({ client, room }) {
  const posts = room.nodes.flatMap((node) => node.moderation.map((m) => ({ ...m, node })));
  const muted = room.muted;
  return html`<section class="card moderation-record" aria-labelledby="moderation-record-heading">
    <h3 id="moderation-record-heading">${t("Moderation")}</h3>
    ${posts.length === 0 && muted.length === 0
      ? html`<p class="muted">${t("Nothing was moderated.")}</p>` : html`<ul>
      ${posts.map((m) => html`<li>${m.action === "hidden"
        ? t("{name} hid a post: {reason}", { name: nameOf(client, m.actor), reason: m.reason })
        : t("{name} restored a post: {reason}", { name: nameOf(client, m.actor), reason: m.reason })}
      </li>`)}
      ${muted.map((id) => html`<li>${room.mute_reasons?.[id]
        ? t("{name} was muted: {reason}", { name: nameOf(client, id), reason: room.mute_reasons[id] })
        : t("{name} was muted.", { name: nameOf(client, id) })}</li>`)}
    </ul>`}
  </section>`;
}
