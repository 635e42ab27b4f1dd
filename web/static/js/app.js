// The live room: one page for jurors, facilitators, the lead and observers.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { Connection } from "./connection.js";
import { pageConfig, t } from "./i18n.js";
import { html, errorText, N_, nameOf, ROLE_NAMES, roomLabel, useNow } from "./ui.js";
import { RoomView } from "./room.js";
import { LeadView } from "./lead.js";
import { announce } from "./announcer.js";
import { readyChimeOnFirstGesture, VoiceClient } from "./voice.js";
import { ListenClient } from "./listen.js";
import { voiceAvailable } from "./voicestate.js";
import { PastRoomView, PastRoundsPicker, roundKey, usePastRounds } from "./pastrounds.js";

function authFromPage() {
  if (pageConfig.mode === "watch") return { assembly: pageConfig.assembly, watch: pageConfig.watch };
  const token = sessionStorage.getItem("palabre.token");
  // An observer may pick the room to watch; others are seated by the server.
  const room = new URLSearchParams(window.location.search).get("room");
  return token ? { token, ...(room ? { watch: room } : {}) } : null;
}

const STATUS_TEXT = {
  connecting: N_("Connecting…"),
  syncing: N_("Catching up…"),
  connected: N_("Live"),
  reconnecting: N_("Reconnecting… what you missed will appear when the connection is back."),
};

function App({ connection, voiceClient, listenClient }) {
  const [view, setView] = useState(connection.view);
  const [notice, setNotice] = useState("");
  const [localVoice, setLocalVoice] = useState(voiceClient.local);
  const [localListen, setLocalListen] = useState(listenClient.local);
  useEffect(() => {
    connection.onChange = setView;
    voiceClient.onChange = setLocalVoice;
    listenClient.onChange = setLocalListen;
    connection.onVoiceRejoin = ({ reason } = {}) => {
      voiceClient.rejoin(reason === "media_server_lost" ? "moving" : "rejoining");
      listenClient.rejoin();
    };
    connection.onReconnected = () => {
      voiceClient.rejoin("reconnecting");
      listenClient.rejoin();
    };
    connection.onVoiceStream = (data) => listenClient.ended(data);
    readyChimeOnFirstGesture();
    connection.start();
  }, []);
  const now = useNow(view.serverOffsetMs);
  const send = async (command, fields) => {
    const ack = await connection.send(command, fields);
    setNotice(ack.ok ? "" : errorText(ack.error));
    return ack;
  };
  // A refusal says what went wrong just now; it does not stay to contradict what came after.
  useEffect(() => {
    if (!notice) return undefined;
    const timer = setTimeout(() => setNotice(""), NOTICE_LASTS_MS);
    return () => clearTimeout(timer);
  }, [notice]);
  useAnnouncements(view, now);
  const [moved, dismissMoved] = useWhereIAm(view);

  if (view.status === "refused") {
    return html`<section class="card"><h1>${t("This link does not open a room")}</h1>
      <p>${errorText(view.refusal)}</p></section>`;
  }
  const { client, you } = view;
  if (!you || !client.assembly) {
    return html`<p class="loading" role="status">${t(STATUS_TEXT[view.status] ?? "Connecting…")}</p>`;
  }
  const live = view.status === "connected";
  const voice = {
    available: voiceAvailable(you, view.voice, localVoice.off),
    server: view.voice,
    talking: view.talking,
    local: localVoice,
    client: voiceClient,
    // An observer's end: listening to the room's sound.
    listen: { local: localListen, client: listenClient },
  };
  return html`
    <div class="topline">
      <h1 class="assembly-name">${client.assembly.title}</h1>
      <p class=${`status status-${live ? "live" : "away"}`} role="status">
        ${t(STATUS_TEXT[view.status] ?? view.status)}</p>
      <p class="you">${you.name ?? t("Observer")} · ${t(ROLE_NAMES[you.role] ?? you.role)}</p>
    </div>
    <${Announcements} client=${client} now=${now} />
    ${notice && html`<p class="notice" role="alert">${notice}</p>`}
    ${moved && html`<p class="notice moved" role="status">${moved}
      <button type="button" class="link" onClick=${dismissMoved}>${t("OK")}</button></p>`}
    ${you.role === "lead"
      ? html`<${LeadView} view=${view} now=${now} send=${send} voice=${voice} />`
      : html`<${Rooms} view=${view} now=${now} send=${send} voice=${voice} />`}
  `;
}

/** A juror's one room, a facilitator's rooms (tabs when several), an observer's room. */
function Rooms({ view, now, send, voice }) {
  const roomIds = view.you.streams.filter((stream) => stream !== "assembly");
  const [chosen, setChosen] = useState(null);
  const current = roomIds.includes(chosen) ? chosen : roomIds[0];
  // Jurors live in the present; facilitators and observers may read the rooms of past rounds.
  const readsPast = view.you.role !== "juror";
  const past = usePastRounds(readsPast ? send : noPast, roundKey(view.client));
  if (past.room) {
    return html`<${PastRoomView} client=${view.client} you=${view.you} room=${past.room}
      now=${now} onBack=${past.close} />`;
  }
  if (!current || !view.client.rooms[current]) {
    return html`<p class="card">${t("You are between rooms. The lead facilitator will seat you shortly.")}</p>`;
  }
  return html`
    ${view.you.role === "observer" && html`<${RoomPicker} client=${view.client} current=${current} />`}
    ${roomIds.length > 1 && html`<nav class="tabs" aria-label=${t("Your rooms")}>
      ${roomIds.map((id) => html`<button type="button" aria-pressed=${id === current}
        onClick=${() => setChosen(id)}>${roomLabel(view.client.rooms[id] ?? { id })}</button>`)}
    </nav>`}
    <${RoomView} view=${view} roomId=${current} now=${now} send=${send} voice=${voice} />
    ${readsPast && html`<${PastRoundsPicker} past=${past} />`}`;
}

/** A juror's page asks nothing of past rounds. */
const noPast = async () => ({ ok: false, error: "forbidden" });

/** Observers watch one room at a time: the plenary, or any breakout room of the round. */
function RoomPicker({ client, current }) {
  const round = client.assembly.round;
  const rooms = [{ room_id: "plenary" }, ...(round?.started ? round.rooms : [])];
  if (rooms.length < 2) return null;
  const go = (event) => {
    const params = new URLSearchParams(window.location.search);
    params.set("room", event.target.value);
    window.location.search = params.toString();
  };
  return html`<p class="row"><label for="watch-room">${t("Watch")}</label>
    <select id="watch-room" value=${current} onChange=${go}>
      ${rooms.map((room) => html`<option value=${room.room_id}>${roomLabel(room)}</option>`)}
    </select></p>`;
}

// How long a refused command's explanation stays on screen.
const NOTICE_LASTS_MS = 8_000;
// An announcement is news for this long; the latest replaces the ones before it.
const ANNOUNCEMENT_LASTS_MS = 15 * 60_000;

/** The lead's latest announcement, until it is dismissed, replaced, ends with its round, or
 * grows old. */
function Announcements({ client, now }) {
  const [dismissed, setDismissed] = useState(null);
  const latest = client.assembly.announcements.at(-1);
  if (!latest || latest.at_ms === dismissed || now - latest.at_ms > ANNOUNCEMENT_LASTS_MS) {
    return null;
  }
  return html`<aside class="announcement" aria-label=${t("Announcement from the lead facilitator")}>
    <span><strong>${t("From the lead facilitator:")}</strong> ${latest.text}</span>
    <button type="button" class="link" onClick=${() => setDismissed(latest.at_ms)}>
      ${t("Dismiss")}</button></aside>`;
}

/**
 * Where the person is now, said when a round or the lead moves them ("You are back in the
 * plenary."), until they dismiss it or move again.
 */
function useWhereIAm(view) {
  const before = useRef(undefined);
  const [said, setSaid] = useState(null);
  const room = view.you?.room;
  useEffect(() => {
    if (room === undefined) return;
    if (before.current !== undefined && before.current !== room && view.client.assembly) {
      const target = room && (view.client.rooms[room] ?? { id: room });
      setSaid(room === "plenary" ? t("You are back in the plenary.")
        : room ? t("You are now in {room}.", { room: roomLabel(target) })
        : null);
    }
    before.current = room;
  }, [room]);
  return [said, () => setSaid(null)];
}

/** Say out loud what a screen-reader user would otherwise miss: the floor and the clock. */
function useAnnouncements(view, now) {
  const seen = useRef({ speakers: {}, warned: new Set(), announcements: null });
  const { client, you } = view;
  if (!you || !client.assembly) return;
  const memory = seen.current;
  for (const [id, room] of Object.entries(client.rooms)) {
    const speaker = room.floor?.speaker ?? null;
    if (memory.speakers[id] !== speaker) {
      if (memory.speakers[id] !== undefined) {
        announce(speaker
          ? (speaker === you.participant ? t("You have the floor.")
            : t("{name} has the floor.", { name: nameOf(client, speaker) }))
          : t("The floor is free."));
      }
      memory.speakers[id] = speaker;
    }
    const floor = room.floor;
    if (floor && !memory.warned.has(floor.turn_id) && now >= floor.warning_at_ms
        && room.paused_at_ms === null) {
      memory.warned.add(floor.turn_id);
      const seconds = Math.max(0, Math.round((floor.deadline_ms - now) / 1000));
      announce(t("Time is running out: {seconds} seconds left.", { seconds }), true);
    }
  }
  // Announcements made before this page opened are shown, not read out.
  const count = client.assembly.announcements.length;
  if (memory.announcements !== null && count > memory.announcements) {
    announce(client.assembly.announcements.at(-1).text, true);
  }
  memory.announcements = count;
}

const auth = authFromPage();
const root = document.getElementById("app");
if (auth === null) {
  render(html`<section class="card"><h1>${t("Open your invite link")}</h1>
    <p>${t("This page needs the invite link the organisers sent you. Open it again to enter.")}</p>
    </section>`, root);
} else {
  const connection = new Connection(auth, () => {});
  // Voice signalling rides the same socket, acks and limits as the commands.
  const signal = { send: (event, data) => connection.send(event, data) };
  // TURN credentials expire: each new peer connection takes those of the latest sync.
  const iceServers = () => connection.view.you?.voice?.ice_servers ?? [];
  const voiceClient = new VoiceClient(signal, () => {}, iceServers);
  const listenClient = new ListenClient(signal, () => {}, iceServers);
  render(html`<${App} connection=${connection} voiceClient=${voiceClient}
    listenClient=${listenClient} />`, root);
}
