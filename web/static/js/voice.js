// The page's end of a room's voice: one RTCPeerConnection to the media server, signalled
// through the palabre socket (voice_join, voice_ice, voice_mute_self, voice_leave), and a chime.
// The server decides who is heard; the page only ever silences its own microphone.
import { VOICE_OFF_CODES } from "./voicestate.js";

/**
 * @typedef {{send: (event: string, data: object) => Promise<any>}} Signal
 * @typedef {{phase: "idle" | "joining" | "joined" | "rejoining" | "failed",
 *   off: boolean, error: string | null, note: string | null, selfMuted: boolean}} LocalVoice
 */

export class VoiceClient {
  /**
   * @param {Signal} signal the socket (Connection.send: an event and its ack)
   * @param {(local: LocalVoice) => void} onChange
   * @param {() => RTCIceServer[]} [iceServers] the STUN/TURN servers the server gave at the
   *   latest sync (TURN credentials expire, so they are read at each new connection)
   */
  constructor(signal, onChange, iceServers = () => []) {
    this.signal = signal;
    this.onChange = onChange;
    this.iceServers = iceServers;
    /** @type {LocalVoice} */
    this.local = { phase: "idle", off: false, error: null, note: null, selfMuted: false };
    this.pc = null;
    this.stream = null;
    this.room = undefined;
    this.player = null;
  }

  /**
   * Join the voice with a microphone stream the person chose (the microphone check's).
   * @param {MediaStream} stream
   * @param {string} [room] a facilitator or the lead names the room they run
   */
  async join(stream, room) {
    this.stream = stream;
    this.room = room;
    this.update({ phase: "joining", error: null });
    return this.connect();
  }

  async connect() {
    this.closePeer();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers() });
    this.pc = pc;
    // Candidates found before the server knows of this connection wait for its answer.
    const early = [];
    let answered = false;
    pc.onicecandidate = ({ candidate }) => {
      const sent = { candidate: candidate ? candidate.toJSON() : null };
      if (answered) this.signal.send("voice_ice", sent);
      else early.push(sent);
    };
    pc.ontrack = ({ streams }) => this.play(streams[0]);
    for (const track of this.stream.getAudioTracks()) {
      // On unless the person muted themselves: the server mutes, never the page.
      track.enabled = !this.local.selfMuted;
      pc.addTrack(track, this.stream);
    }
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const ack = await this.signal.send("voice_join", {
      offer: { type: offer.type, sdp: offer.sdp },
      ...(this.room ? { room: this.room } : {}),
    });
    if (this.pc !== pc) return ack; // Left or rejoined meanwhile.
    if (!ack.ok) {
      this.closePeer();
      for (const track of this.stream.getTracks()) track.stop();
      this.stream = null;
      this.update({ phase: "failed", off: VOICE_OFF_CODES.has(ack.error), error: ack.error,
                    note: null, selfMuted: false });
      return ack;
    }
    await pc.setRemoteDescription(ack.answer);
    answered = true;
    for (const sent of early) this.signal.send("voice_ice", sent);
    const wasRejoining = ["rejoining", "reconnecting", "moving"].includes(this.local.note);
    this.update({ phase: "joined", note: wasRejoining ? "back" : null });
    return ack;
  }

  /**
   * A new offer, by itself, and the person is told why: the media server restarted
   * ("rejoining"), or the page's connection came back after the server let its audio go
   * ("reconnecting"), or the room moved to another media server ("moving").
   * @param {"rejoining" | "reconnecting" | "moving"} [why]
   */
  async rejoin(why = "rejoining") {
    if (!this.stream || this.local.phase === "idle") return;
    this.update({ phase: "rejoining", note: why });
    await this.connect();
  }

  /**
   * Silence or unsilence oneself. Silencing happens here first (the track goes off at once);
   * unsilencing waits for the server's yes, and the track comes back only then.
   * @param {boolean} muted
   */
  async muteSelf(muted) {
    if (muted) this.setTrack(false);
    const ack = await this.signal.send("voice_mute_self", { muted });
    if (ack.ok) {
      this.update({ selfMuted: ack.muted });
      this.setTrack(!ack.muted);
    } else if (muted) {
      // The server did not hear of it; the microphone stays off all the same.
      this.update({ selfMuted: true });
    }
    return ack;
  }

  async leave() {
    const joined = this.local.phase === "joined";
    this.closePeer();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.update({ phase: "idle", note: null, selfMuted: false });
    if (joined) await this.signal.send("voice_leave", {});
  }

  /** @param {boolean} on */
  setTrack(on) {
    for (const track of this.stream?.getAudioTracks() ?? []) track.enabled = on;
  }

  /** The room's mix, played through an audio element the person's click allowed. */
  play(stream) {
    if (!this.player) {
      this.player = document.createElement("audio");
      this.player.autoplay = true;
      document.body.append(this.player);
    }
    this.player.srcObject = stream;
    this.player.play().catch(() => {});
  }

  closePeer() {
    if (!this.pc) return;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.close();
    this.pc = null;
  }

  /** @param {Partial<LocalVoice>} changes */
  update(changes) {
    this.local = { ...this.local, ...changes };
    this.onChange(this.local);
  }
}

// A short rising two-note chime: loud enough to notice, short enough not to talk over anyone.
const CHIME_NOTES_HZ = [660, 880];
const CHIME_NOTE_S = 0.12;
const CHIME_GAIN = 0.15;
let chimeContext = null;

/**
 * Browsers start audio only after a click or a key: the first one on the page readies the
 * chime, so that it can sound when the floor comes later.
 */
export function readyChimeOnFirstGesture() {
  const ready = () => {
    chimeContext ??= new AudioContext();
    chimeContext.resume().catch(() => {});
  };
  document.addEventListener("pointerdown", ready, { once: true });
  document.addEventListener("keydown", ready, { once: true });
}

/** Play the floor chime (silently does nothing before the page was ever clicked). */
export function chime() {
  if (!chimeContext || chimeContext.state !== "running") return;
  const start = chimeContext.currentTime;
  CHIME_NOTES_HZ.forEach((hz, index) => {
    const at = start + index * CHIME_NOTE_S;
    const tone = chimeContext.createOscillator();
    const gain = chimeContext.createGain();
    tone.frequency.value = hz;
    gain.gain.setValueAtTime(CHIME_GAIN, at);
    gain.gain.exponentialRampToValueAtTime(0.001, at + CHIME_NOTE_S);
    tone.connect(gain).connect(chimeContext.destination);
    tone.start(at);
    tone.stop(at + CHIME_NOTE_S);
  });
}
