// The voice as a person sees it: their state in plain words, who is speaking now, the switch to
// silence themselves, and the microphone check that comes before joining a room's voice.
import { useEffect, useRef, useState } from "preact/hooks";
import { t } from "./i18n.js";
import { errorText, html, N_, nameOf } from "./ui.js";
import { chime } from "./voice.js";
import { levelOf, mayUnmuteSelf, roomWhy, voiceLine } from "./voicestate.js";

// The state line once the person's microphone is joined: what the media server does with it.
const JOINED_LINES = {
  floor: N_("You have the floor: your microphone is live"),
  open_floor: N_("Open floor: speak freely"),
  moderator: N_("You run this room: your microphone is live"),
  self: N_("You muted yourself"),
  no_floor: N_("Muted: raise your hand to speak"),
  muted: N_("A facilitator muted you"),
  paused: N_("The room is paused: nobody is heard"),
  off: N_("Voice is off on this server"),
};
// Before joining (or on a server without voice): what the room lets the person do.
const ROOM_LINES = {
  floor: N_("You have the floor: type what you say below"),
  open_floor: N_("Open floor: speak freely"),
  moderator: N_("You run this room"),
  self: N_("You muted yourself"),
  no_floor: N_("Raise your hand to speak"),
  muted: N_("A facilitator muted you"),
  paused: N_("The room is paused"),
  off: N_("Voice is off on this server"),
};
// The same for a person whose hand is up and who waits for the floor.
const WAITING_LINES = {
  joined: N_("Muted: your hand is up, wait for your turn"),
  room: N_("Your hand is up: wait for your turn"),
};
const NOTES = {
  rejoining: N_("The voice server restarted: reconnecting your microphone…"),
  reconnecting: N_("Your connection came back: reconnecting your microphone…"),
  moving: N_("The voice server went down: moving your microphone to another…"),
  back: N_("Your microphone is reconnected."),
};
// The meter redraws ten times a second: smooth enough to see a voice, cheap for a phone.
const METER_EVERY_MS = 100;

/**
 * The always-visible voice line of a room: compact, at the top of the stage (the pinned line repeats the floor on a phone).
 * @param {{voice: object, room: object, you: object, client: object, moderator: boolean}} props
 */
export function VoiceBar({ voice, room, you, client, moderator }) {
  const [checking, setChecking] = useState(false);
  const line = voiceLine({ available: voice.available, server: voice.server, room,
                           me: you.participant, role: you.role });
  useChimeOnFloor(line.why);
  const { local } = voice;
  const joinedHere = line.joined;
  const waitingText = line.why === "no_floor" && line.waiting
    ? WAITING_LINES[joinedHere ? "joined" : "room"] : null;
  const text = t(waitingText ?? (joinedHere ? JOINED_LINES : ROOM_LINES)[line.why]
    ?? ROOM_LINES.no_floor);
  const talking = voice.talking[room.id] ?? [];
  return html`<section class=${`voice-bar card${line.live ? " live" : ""}`}
      aria-label=${t("Your voice")}>
    <p class="voice-state" role="status">
      <span class=${`mic-dot${line.live ? " on" : ""}`} aria-hidden="true"></span>${text}</p>
    ${talking.length > 0 && html`<p class="speaking-now">
      <span class="voice-wave" aria-hidden="true"><span></span><span></span><span></span></span>
      ${t("Speaking now: {names}", { names: talking.map((id) => nameOf(client, id)).join(", ") })}</p>`}
    ${local.note && html`<p class="voice-note" role="alert">${t(NOTES[local.note])}</p>`}
    ${!voice.available
      ? html`<p class="voice-off">${t("Voice is off on this server")}${" · "}
          ${t("Typing works as usual.")}</p>`
      : joinedHere
        ? html`<${MuteSwitch} voice=${voice} line=${line}
            roomReason=${roomWhy(room, you.participant, you.role)} />`
        : html`<div class="row">
            <button type="button" onClick=${() => setChecking(true)}
              disabled=${local.phase === "joining"}>${t("Check my microphone and join the voice")}</button>
            ${local.error && html`<span class="muted">${errorText(local.error)}</span>`}
          </div>`}
    ${checking && html`<${MicCheck} close=${() => setChecking(false)}
      join=${(stream) => voice.client.join(stream, moderator ? room.id : undefined)} />`}
  </section>`;
}

/** The mute-myself switch: always able to silence, able to unsilence only when one may be heard. */
function MuteSwitch({ voice, line, roomReason }) {
  const selfMuted = voice.local.selfMuted || line.why === "self";
  const canUnmute = mayUnmuteSelf(line, roomReason);
  const [busy, setBusy] = useState(false);
  const toggle = async () => {
    setBusy(true);
    await voice.client.muteSelf(!selfMuted);
    setBusy(false);
  };
  return html`<div class="row">
    <button type="button" class="mute-switch" aria-pressed=${selfMuted}
      disabled=${busy || (selfMuted && !canUnmute)} onClick=${toggle}>
      ${selfMuted ? t("My microphone is off") : t("Turn my microphone off")}</button>
    ${selfMuted && !canUnmute && html`<span class="muted">${t("You can turn it back on when you may speak.")}</span>`}
    <button type="button" class="link" onClick=${() => voice.client.leave()}>${t("Leave the voice")}</button>
  </div>`;
}

/** A short chime when the floor becomes mine (not when the page opens with it already mine). */
function useChimeOnFloor(why) {
  const before = useRef(null);
  useEffect(() => {
    if (before.current !== null && before.current !== "floor" && why === "floor") chime();
    before.current = why;
  }, [why]);
}

/**
 * The microphone check: opens nothing until the person clicks, shows a live level meter and a
 * device picker, explains a refusal, and hands the chosen microphone to the voice on "Join".
 */
function MicCheck({ close: unmount, join }) {
  const dialog = useRef(null);
  // Closed before it goes, so that the browser gives the focus back to the button that opened it.
  const close = () => {
    dialog.current?.close();
    unmount();
  };
  const [phase, setPhase] = useState("asking");
  const [devices, setDevices] = useState([]);
  const [deviceId, setDeviceId] = useState("");
  const [level, setLevel] = useState(0);
  const held = useRef({ stream: null, audio: null, timer: null, handedOver: false });

  const stopMeter = () => {
    const h = held.current;
    clearInterval(h.timer);
    h.audio?.close().catch(() => {});
    h.audio = null;
  };
  const release = () => {
    stopMeter();
    if (!held.current.handedOver) for (const track of held.current.stream?.getTracks() ?? []) track.stop();
    held.current.stream = null;
  };
  const open = async (chosen) => {
    release();
    setPhase("asking");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: chosen ? { deviceId: { exact: chosen } } : true,
      });
    } catch (problem) {
      setPhase(problem?.name === "NotFoundError" ? "missing" : "refused");
      return;
    }
    held.current.stream = stream;
    const found = (await navigator.mediaDevices.enumerateDevices())
      .filter((device) => device.kind === "audioinput");
    setDevices(found);
    setDeviceId(stream.getAudioTracks()[0]?.getSettings().deviceId ?? chosen ?? "");
    const audio = new AudioContext();
    const analyser = audio.createAnalyser();
    analyser.fftSize = 1024;
    audio.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    held.current.audio = audio;
    held.current.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      setLevel(levelOf(samples));
    }, METER_EVERY_MS);
    setPhase("open");
  };
  useEffect(() => {
    dialog.current.showModal();
    // The dialog opened on the person's click: asking for the microphone follows from it.
    open("");
    return release;
  }, []);
  const start = () => {
    held.current.handedOver = true;
    const stream = held.current.stream;
    stopMeter();
    close();
    join(stream);
  };
  return html`<dialog ref=${dialog} class="mic-check" aria-labelledby="mic-check-heading"
      onCancel=${close}>
    <h2 id="mic-check-heading">${t("Check your microphone")}</h2>
    ${phase === "asking" && html`<p role="status">${t("Your browser may ask whether palabre can use your microphone: choose Allow.")}</p>`}
    ${phase === "open" && html`
      <p>${t("Say a few words: the bar moves when your microphone hears you.")}</p>
      <label for="mic-level">${t("Microphone level")}</label>
      <meter id="mic-level" class="level" min="0" max="1" value=${level}></meter>
      <label for="mic-device">${t("Microphone")}</label>
      <select id="mic-device" value=${deviceId}
        onChange=${(e) => { setDeviceId(e.target.value); open(e.target.value); }}>
        ${devices.map((device, index) => html`<option value=${device.deviceId}>
          ${device.label || t("Microphone {number}", { number: index + 1 })}</option>`)}
      </select>
      <div class="row">
        <button type="button" class="primary" onClick=${start}>${t("Join the voice")}</button>
        <button type="button" onClick=${close}>${t("Not now")}</button>
      </div>`}
    ${(phase === "refused" || phase === "missing") && html`<div class="mic-refused" role="alert">
      <p><strong>${phase === "refused"
        ? t("Your browser did not let palabre use your microphone.")
        : t("No microphone was found on this device.")}</strong></p>
      <p>${phase === "refused"
        ? t("To allow it, tap or click the small lock or microphone sign beside the web address at the top, choose Allow for the microphone, then try again.")
        : t("Plug in a microphone or a headset, then try again.")}</p>
      <p>${t("You can still take part by typing: raise your hand, and write what you say when you have the floor.")}</p>
      <div class="row">
        <button type="button" class="primary" onClick=${() => open(deviceId)}>${t("Try again")}</button>
        <button type="button" onClick=${close}>${t("Close")}</button>
      </div></div>`}
  </dialog>`;
}

/** A live "speaking" mark beside a person's name (facilitator's list, lead's room cards). */
export function SpeakingMark({ talking }) {
  if (!talking) return null;
  return html` <span class="speaking-mark"><span class="voice-wave" aria-hidden="true"><span></span><span></span><span></span></span>${t("speaking")}</span>`;
}
