// Added to every test page before its own scripts (Playwright's init script). It changes
// nothing the page does; it watches:
// - each RTCPeerConnection the page makes, and the level of every remote audio track it
//   receives (RMS of each 10 ms of samples, through a WebAudio analyser);
// - the page's socket.io websocket: every event it receives, with the time it arrived;
// and it lets the test send messages on that same socket (`emit`), as the page's own code
// could, to see what the server answers a page that tries what it should not.
// Times are `performance.timeOrigin + performance.now()`: wall-clock milliseconds, comparable
// with the test's `time.time() * 1000` on the same machine.
(() => {
  // How often the page reads the level, and the slices it is cut into.
  const SAMPLE_EVERY_MS = 50;
  const CHUNK_S = 0.01;
  const FFT_SIZE = 32768;
  // About ten minutes of samples; older ones are dropped.
  const MAX_SAMPLES = 60000;
  const MAX_EVENTS = 5000;
  // Ack ids far above the page's own counter, so the page ignores the answers to ours.
  const FIRST_ACK_ID = 900000;

  const now = () => performance.timeOrigin + performance.now();
  const probe = {
    levels: [],
    received: [],
    peers: [],
    // When each connection's audio track arrived (a rejoin's new connection, say).
    tracks: [],
    sockets: [],
    audio: null,
    nextAck: FIRST_ACK_ID,
    waiting: new Map(),
  };
  window.__probe = probe;

  // --- received audio ---------------------------------------------------------------------
  // The analyser keeps the last FFT_SIZE frames (0.68 s at 48 kHz): each tick cuts what came
  // since the last one into CHUNK_S slices, each timed by its distance from the newest frame,
  // so a page whose main thread was held up a few hundred milliseconds misses nothing.
  let sampler = null;
  let lastTime = null;
  const analysers = [];
  const measure = (stream) => {
    probe.audio ??= new AudioContext();
    probe.audio.resume().catch(() => {});
    const analyser = probe.audio.createAnalyser();
    analyser.fftSize = FFT_SIZE;
    probe.audio.createMediaStreamSource(stream).connect(analyser);
    analysers.push({ analyser, samples: new Float32Array(FFT_SIZE) });
    sampler ??= setInterval(tick, SAMPLE_EVERY_MS);
  };
  const tick = () => {
    const audio = probe.audio;
    const at = now();
    const rate = audio.sampleRate;
    const chunk = Math.round(rate * CHUNK_S);
    const time = audio.currentTime;
    const fresh = lastTime === null ? chunk
      : Math.min(FFT_SIZE, Math.floor(((time - lastTime) * rate) / chunk) * chunk);
    if (fresh <= 0 || analysers.length === 0) return;
    lastTime = lastTime === null ? time : lastTime + fresh / rate;
    for (const { analyser, samples } of analysers) analyser.getFloatTimeDomainData(samples);
    for (let end = FFT_SIZE - fresh + chunk; end <= FFT_SIZE; end += chunk) {
      let sum = 0;
      for (const { samples } of analysers) {
        for (let i = end - chunk; i < end; i += 1) sum += samples[i] * samples[i];
      }
      const rms = Math.sqrt(sum / (chunk * analysers.length));
      probe.levels.push([at - ((FFT_SIZE - end) / rate) * 1000, rms]);
    }
    if (probe.levels.length > MAX_SAMPLES) probe.levels.splice(0, probe.levels.length - MAX_SAMPLES);
  };
  // Only the latest connection's tracks count: a rejoin replaces the old connection.
  const Original = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Original {
    constructor(...args) {
      super(...args);
      probe.peers.push(this);
      this.addEventListener("track", ({ track, streams }) => {
        if (track.kind !== "audio") return;
        probe.tracks.push(now());
        analysers.length = 0;
        measure(streams[0] ?? new MediaStream([track]));
      });
    }
  };
  probe.levelsSince = (from) => probe.levels.filter(([at]) => at >= from);
  probe.tracksSince = (from) => probe.tracks.filter((at) => at >= from);
  probe.peerStates = () => probe.peers.map((pc) => ({
    connection: pc.connectionState, ice: pc.iceConnectionState,
  }));
  probe.audioState = () => (probe.audio ? probe.audio.state : "none");
  // What a page that wants to be heard could do to its own microphone: turn its tracks on.
  probe.forceMicrophoneOn = () => {
    let forced = 0;
    for (const pc of probe.peers) {
      if (pc.connectionState === "closed") continue;
      for (const sender of pc.getSenders()) {
        if (sender.track && sender.track.kind === "audio") {
          sender.track.enabled = true;
          forced += 1;
        }
      }
    }
    return forced;
  };
  probe.localOffer = async () => {
    const pc = new Original({ iceServers: [] });
    pc.addTransceiver("audio");
    const offer = await pc.createOffer();
    pc.close();
    return { type: offer.type, sdp: offer.sdp };
  };

  // --- the page's socket --------------------------------------------------------------------
  const OriginalSocket = window.WebSocket;
  window.WebSocket = class extends OriginalSocket {
    constructor(...args) {
      super(...args);
      if (!String(args[0]).includes("/socket.io/")) return;
      probe.sockets.push(this);
      this.addEventListener("message", ({ data }) => {
        if (typeof data !== "string") return;
        const at = now();
        const ack = /^43(\d+)(\[.*\])$/s.exec(data);
        if (ack && probe.waiting.has(Number(ack[1]))) {
          probe.waiting.get(Number(ack[1]))(JSON.parse(ack[2])[0]);
          probe.waiting.delete(Number(ack[1]));
          return;
        }
        if (!data.startsWith("42")) return;
        const [name, payload] = JSON.parse(data.slice(2));
        probe.received.push({ at, name, payload });
        if (probe.received.length > MAX_EVENTS) probe.received.shift();
      });
    }
  };
  probe.emit = (name, data, timeoutMs = 5000) => {
    const socket = probe.sockets.filter((s) => s.readyState === OriginalSocket.OPEN).at(-1);
    if (!socket) return Promise.resolve({ ok: false, error: "probe: no open socket" });
    const id = probe.nextAck++;
    return new Promise((resolve) => {
      probe.waiting.set(id, resolve);
      socket.send(`42${id}${JSON.stringify([name, data])}`);
      setTimeout(() => {
        if (probe.waiting.delete(id)) resolve({ ok: false, error: "probe: no answer" });
      }, timeoutMs);
    });
  };
  probe.receivedSince = (from) => probe.received.filter(({ at }) => at >= from);
})();
