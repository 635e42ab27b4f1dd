// The live connection: socket.io over websocket, resumed from the last seq of each stream.
import { io } from "socket.io-client";
import { applyEvent, applyRoster, applySnapshots, dropStreams, missingPeople } from "./state.js";
import { StreamSequencer } from "./streams.js";

// The ack of a command never takes this long unless the server is gone.
const ACK_TIMEOUT_MS = 8000;
// Refusals that mean "not now" rather than "no": try again after a pause, spread out so that
// a whole venue refused at once does not come back at once.
const TRANSIENT_REFUSALS = new Set(["rate_limited", "unavailable"]);
const RETRY_AFTER_REFUSAL_MS = 5000;

/**
 * Keeps the client state of one viewer: snapshots, then events in seq order, each once.
 * `onChange(view)` gets {client, you, status, presence, serverOffsetMs, refusal, voice,
 * talking}.
 */
export class Connection {
  constructor(auth, onChange) {
    this.auth = auth;
    this.onChange = onChange;
    this.view = {
      client: { audience: "member", assembly: null, rooms: {}, people: {} },
      you: null,
      status: "connecting",
      presence: {},
      serverOffsetMs: 0,
      refusal: null,
      // The person's own voice state (the server's `voice` event), and who is heard talking
      // in each room followed (`voice_activity`); both absent on a server without voice.
      voice: null,
      talking: {},
    };
    /** A `voice_rejoin` from the server: the voice client makes a new offer. */
    this.onVoiceRejoin = () => {};
    /**
     * The socket came back after a loss and is synced again. The server let go of everything
     * the old socket held (its audio included): the voice client joins again.
     */
    this.onReconnected = () => {};
    this.everConnected = false;
    /** A `voice_stream` from the server: an observer's listening ended. */
    this.onVoiceStream = () => {};
    /** Ids already asked for with `roster`: each once per connection, answered or not. */
    this.askedFor = new Set();
    this.sequencer = new StreamSequencer({
      apply: (payload) => this.update({ client: applyEvent(this.view.client, payload) }),
      onGap: () => this.sync(),
    });
  }

  start() {
    this.socket = io({ auth: (give) => give(this.auth), transports: ["websocket"] });
    this.socket.on("connect", async () => {
      const again = this.everConnected;
      this.everConnected = true;
      this.update({ status: "syncing" });
      const synced = await this.sync();
      if (again && synced) this.onReconnected();
    });
    this.socket.on("disconnect", (reason) => {
      this.update({ status: "reconnecting" });
      // Shown out by the server (a withdrawn invite): socket.io would not come back by itself.
      // Asking again tells the page why (`revoked_token`), or lets it back in.
      if (reason === "io server disconnect") this.socket.connect();
    });
    this.socket.on("connect_error", (error) => {
      const code = error?.data?.error;
      if (code && !TRANSIENT_REFUSALS.has(code)) {
        // Refused for good (a withdrawn or expired invite): stop trying, say why.
        this.socket.disconnect();
        this.update({ status: "refused", refusal: code });
      } else {
        this.update({ status: "reconnecting" });
        // socket.io retries a lost connection by itself, but not one the server refused.
        if (code) {
          setTimeout(() => this.socket.connect(), RETRY_AFTER_REFUSAL_MS * (1 + Math.random()));
        }
      }
    });
    this.socket.on("event", (payload) => this.sequencer.receive(payload));
    this.socket.on("moved", (data) => this.moved(data));
    this.socket.on("presence", ({ room, present }) =>
      this.update({ presence: { ...this.view.presence, [room]: present } }),
    );
    this.socket.on("voice", (voice) => this.update({ voice }));
    this.socket.on("voice_activity", ({ room, talking }) =>
      this.update({ talking: { ...this.view.talking, [room]: talking } }),
    );
    this.socket.on("voice_rejoin", (data) => this.onVoiceRejoin(data));
    this.socket.on("voice_stream", (data) => this.onVoiceStream(data));
    // A phone that loses its network learns it from the browser long before a ping times out.
    window.addEventListener("offline", () => this.socket.disconnect());
    window.addEventListener("online", () => this.socket.connect());
    window.addEventListener("offline", () => this.update({ status: "reconnecting" }));
  }

  async sync() {
    let reply;
    try {
      reply = await this.socket
        .timeout(ACK_TIMEOUT_MS)
        .emitWithAck("sync", { resume: this.sequencer.lastSeqs() });
    } catch {
      return false; // Disconnected meanwhile: the next connect syncs again.
    }
    if (!reply.ok) return false;
    // A new socket: whom the old one could not name may be named now.
    this.askedFor = new Set();
    const audience = { lead: "mod", facilitator: "mod", juror: "member" }[reply.you.role] ?? "obs";
    let client = { ...this.view.client, audience };
    client = applySnapshots(client, reply.snapshots);
    this.update({
      client,
      you: reply.you,
      serverOffsetMs: reply.server_time_ms - Date.now(),
    });
    for (const [stream, snapshot] of Object.entries(reply.snapshots)) {
      this.sequencer.reset(stream, snapshot.seq);
    }
    for (const payload of reply.events) this.sequencer.receive(payload);
    this.update({ status: "connected" });
    return true;
  }

  moved(data) {
    let client = dropStreams(this.view.client, data.you.streams);
    client = applySnapshots(client, data.snapshots);
    for (const stream of this.sequencer.streams()) {
      if (!data.you.streams.includes(stream)) this.sequencer.forget(stream);
    }
    this.update({ client, you: data.you });
    for (const [stream, snapshot] of Object.entries(data.snapshots)) {
      this.sequencer.reset(stream, snapshot.seq);
    }
  }

  /**
   * Send a command; resolves with its ack ({ok, seq} or {ok: false, error, detail}).
   * @param {string} command
   * @param {Record<string, unknown>} fields
   */
  async send(command, fields = {}) {
    if (!this.socket?.connected) return { ok: false, error: "not_connected", detail: "" };
    try {
      return await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(command, fields);
    } catch {
      return { ok: false, error: "unavailable", detail: "" };
    }
  }

  update(changes) {
    const before = this.view.client;
    this.view = { ...this.view, ...changes };
    this.onChange(this.view);
    if (this.view.client !== before) this.askForPeople();
  }

  /**
   * Snapshots carry each room's people, not the whole roster: someone met otherwise (back from
   * a breakout room this page did not follow) is asked for with `roster`, once.
   */
  askForPeople() {
    for (const { room, ids } of missingPeople(this.view.client)) {
      const fresh = ids.filter((id) => !this.askedFor.has(id));
      if (fresh.length === 0 || !this.socket?.connected) continue;
      for (const id of fresh) this.askedFor.add(id);
      this.send("roster", room === null ? {} : { room }).then((reply) => {
        if (reply.ok) this.update({ client: applyRoster(this.view.client, reply.people) });
      });
    }
  }
}
