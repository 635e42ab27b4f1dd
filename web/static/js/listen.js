// An observer's end of a room's sound: the media server offers a receive-only stream of the
// room's mix, signalled through the palabre socket (voice_listen, voice_listen_answer,
// voice_ice, voice_leave); the page answers and plays it. An observer never joins the mix.

/**
 * @typedef {{send: (event: string, data: object) => Promise<any>}} Signal
 * @typedef {"idle" | "starting" | "listening" | "rejoining" | "blocked" | "failed" | "ended"}
 *   ListenPhase
 * @typedef {{phase: ListenPhase, room: string | null, off: boolean, error: string | null,
 *   ended: string | null, note: string | null}} LocalListen
 */

// Remembered for this tab: a page that listened listens again after it reloads (the observer's
// room picker reloads the page) without another click when the browser allows it.
const REMEMBER = "palabre.listening";

export class ListenClient {
  /**
   * @param {Signal} signal the socket (Connection.send: an event and its ack)
   * @param {(local: LocalListen) => void} onChange
   * @param {RTCIceServer[]} [iceServers] none unless the server gives some
   */
  constructor(signal, onChange, iceServers = []) {
    this.signal = signal;
    this.onChange = onChange;
    this.iceServers = iceServers;
    /** @type {LocalListen} */
    this.local = { phase: "idle", room: null, off: false, error: null, ended: null, note: null };
    this.pc = null;
    this.player = null;
  }

  /** Whether this tab was listening before the page (re)loaded. */
  static wasListening() {
    return sessionStorage.getItem(REMEMBER) === "1";
  }

  /**
   * Listen to a room (ending whatever this page listened to before).
   * @param {string} room
   * @param {{note?: string | null}} [options]
   */
  async listen(room, { note = null } = {}) {
    this.closePeer();
    this.ensurePlayer();
    this.update({ phase: note ? "rejoining" : "starting", room, error: null, ended: null, note });
    const ack = await this.signal.send("voice_listen", { room });
    if (this.local.room !== room || this.local.phase === "idle") return ack; // Moved on meanwhile.
    if (!ack.ok) return this.failed(ack.error);
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    // Candidates found before the server took the answer wait for it.
    const early = [];
    let answered = false;
    pc.onicecandidate = ({ candidate }) => {
      const sent = { candidate: candidate ? candidate.toJSON() : null };
      if (answered) this.signal.send("voice_ice", sent);
      else early.push(sent);
    };
    pc.ontrack = ({ streams, track }) => this.play(streams[0] ?? new MediaStream([track]));
    pc.oniceconnectionstatechange = () => {
      if (this.pc === pc && pc.iceConnectionState === "failed") this.failed("no_route");
    };
    let answer;
    try {
      await pc.setRemoteDescription(ack.offer);
      answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
    } catch {
      this.signal.send("voice_leave", {});
      return this.failed("invalid_sdp");
    }
    const started = await this.signal.send("voice_listen_answer", {
      answer: { type: answer.type, sdp: answer.sdp },
    });
    if (this.pc !== pc) return started;
    if (!started.ok) return this.failed(started.error);
    answered = true;
    for (const sent of early) this.signal.send("voice_ice", sent);
    sessionStorage.setItem(REMEMBER, "1");
    const back = this.local.note === "rejoining" ? "back" : null;
    this.update({ phase: this.local.phase === "blocked" ? "blocked" : "listening", note: back });
    return started;
  }

  /** Stop listening, as the person asked. */
  async stop() {
    const was = this.local.phase;
    this.closePeer();
    this.player?.pause();
    sessionStorage.removeItem(REMEMBER);
    this.update({ phase: "idle", error: null, ended: null, note: null });
    if (was !== "idle" && was !== "failed" && was !== "ended") {
      await this.signal.send("voice_leave", {});
    }
  }

  /** The media server restarted: listen again by itself, and say so. */
  async rejoin() {
    const { phase, ended, room } = this.local;
    const listened = ["listening", "rejoining", "blocked", "starting"].includes(phase)
      || (phase === "ended" && ended === "voice_unavailable");
    if (!listened || !room) return;
    await this.listen(room, { note: "rejoining" });
  }

  /**
   * The server ended the listening (`voice_stream`): the room closed, or the media server went
   * away (a `voice_rejoin` follows when it is back).
   * @param {{room: string, reason: string}} data
   */
  ended({ room, reason }) {
    if (room !== this.local.room || this.local.phase === "idle") return;
    // Still remembered: a person who goes on to the plenary goes on listening there.
    this.closePeer();
    this.update({ phase: "ended", ended: reason, note: null });
  }

  /** @param {string} error */
  failed(error) {
    this.closePeer();
    // A server without voice does not know the message; a media server that is down may be back
    // in a moment, so the button stays for that.
    this.update({ phase: "failed", off: error === "unknown_command", error, note: null });
    return { ok: false, error };
  }

  /** The audio element, made on the person's click so that the browser lets it play. */
  ensurePlayer() {
    if (this.player) return;
    this.player = document.createElement("audio");
    this.player.autoplay = true;
    this.player.className = "room-sound";
    document.body.append(this.player);
  }

  /** @param {MediaStream} stream */
  play(stream) {
    this.ensurePlayer();
    this.player.srcObject = stream;
    this.player.play().catch((problem) => {
      // The browser wants a click before it plays sound (a reloaded page, say).
      if (problem?.name === "NotAllowedError" && this.pc) this.update({ phase: "blocked" });
    });
  }

  /** The person pressed play on a page whose browser held the sound back. */
  async resume() {
    try {
      await this.player?.play();
      this.update({ phase: "listening" });
    } catch {
      // Still held back: the button stays.
    }
  }

  closePeer() {
    if (!this.pc) return;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.oniceconnectionstatechange = null;
    this.pc.close();
    this.pc = null;
  }

  /** @param {Partial<LocalListen>} changes */
  update(changes) {
    this.local = { ...this.local, ...changes };
    this.onChange(this.local);
  }
}
