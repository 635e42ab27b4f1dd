// B2 of issue 9: the bare Node socket.io 4 server palabre is measured against, doing what B1
// (bench/bare_python.py) does and speaking its protocol (see that file's docstring): stamp each
// command with its room's next seq and the server's time, emit it to the room and to the room's
// observers, ack the sender; nothing stored. socket.io's defaults otherwise.
//
//   node bench/bare_node.mjs --host 127.0.0.1 --port 8001
//
// It prints "listening <url>" once it accepts connections, and stops on SIGTERM.

import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const MAX_ROOM_CHARS = 64;
const MAX_STREAMS = 1000;

const { values } = parseArgs({
  options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string" } },
});
if (!values.port || !/^\d+$/.test(values.port)) {
  console.error("usage: node bench/bare_node.mjs --host 127.0.0.1 --port <port>");
  process.exit(2);
}

const observersOf = (room) => `${room}/observers`;

function validAuth(auth) {
  if (auth === null || typeof auth !== "object") return false;
  const { name, streams, observer = false } = auth;
  return (
    typeof name === "string" &&
    typeof observer === "boolean" &&
    Array.isArray(streams) &&
    streams.length <= MAX_STREAMS &&
    streams.every((s) => typeof s === "string" && s.length > 0 && s.length <= MAX_ROOM_CHARS)
  );
}

// Each room's last seq, counted from the first command since the server started.
const heads = new Map();
const http = createServer((request, response) => {
  // The health check the driver waits for, as palabre's /healthz.
  response.writeHead(request.url === "/healthz" ? 200 : 404).end();
});
const io = new Server(http, { serveClient: false });

io.use((socket, next) => {
  if (!validAuth(socket.handshake.auth)) return next(new Error("invalid_auth"));
  next();
});

io.on("connection", (socket) => {
  const { name, observer = false } = socket.handshake.auth;
  const streams = [...new Set(socket.handshake.auth.streams)];
  socket.join(streams.map((room) => (observer ? observersOf(room) : room)));

  socket.on("sync", (...args) => {
    const ack = args.at(-1);
    if (typeof ack !== "function") return;
    ack({
      ok: true,
      you: { name, streams },
      server_time_ms: Date.now(),
      snapshots: Object.fromEntries(streams.map((room) => [room, { seq: heads.get(room) ?? 0 }])),
      events: [],
    });
  });

  socket.onAny((command, ...args) => {
    if (command === "sync") return;
    const ack = typeof args.at(-1) === "function" ? args.pop() : () => {};
    const payload = args[0];
    if (payload === null || typeof payload !== "object" || "type" in payload) {
      return ack({ ok: false, error: "invalid_command" });
    }
    const room = payload.room;
    if (observer || !streams.includes(room)) return ack({ ok: false, error: "forbidden" });
    const seq = (heads.get(room) ?? 0) + 1;
    heads.set(room, seq);
    const event = { ...payload, type: command, room, seq, actor: name, at_ms: Date.now() };
    io.to(room).emit("event", event);
    io.to(observersOf(room)).emit("event", event);
    ack({ ok: true, seq });
  });
});

http.listen(Number(values.port), values.host, () => {
  console.log(`listening http://${values.host}:${values.port}`);
});
process.on("SIGTERM", () => {
  io.close();
  process.exit(0);
});
