// The load generator of issue 9: thousands of socket.io clients in one Node process, driving
// palabre, B1 (bench/bare_python.py) or B2 (bench/bare_node.mjs) the same way, over loopback.
//
//   node bench/loadgen.mjs --plan plan.json --out result.json
//
// bench/scale.py writes the plan (who connects with which auth, what each room does first,
// who sends what at which rate) and reads the result; this file knows nothing of palabre. Each
// client behaves as a real one: websocket transport, `sync` once connected, then every `event`
// counted per stream and seq, so a lost or duplicated delivery shows. Every latency is taken on
// this process's one clock: fan-out from the sender's emit to each receipt, ack from the emit
// to the ack. It reads the server process's CPU and RSS from /proc around each phase, and
// its own CPU (process.cpuUsage) so the figures say whether the generator was the bottleneck.
//
// Every loop is bounded: a fixed number of sockets, of commands per step and of steps, a
// timeout on every connection and every ack, a cap on each drain.

import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { io } from "socket.io-client";

const { values: options } = parseArgs({
  options: { plan: { type: "string" }, out: { type: "string" } },
});
if (!options.plan || !options.out) {
  console.error("usage: node bench/loadgen.mjs --plan plan.json --out result.json");
  process.exit(2);
}
const plan = JSON.parse(readFileSync(options.plan, "utf8"));
const timeoutMs = plan.timeoutSeconds * 1000;
// Deliveries later than this count as not "delivered in time" (issue 9's W2 figure).
const IN_TIME_MS = 3000;
// How often a drain looks whether every delivery arrived.
const DRAIN_POLL_MS = 50;
// Between the rooms' preparation and the first step.
const SETTLE_MS = 1000;

// --- The server process, from /proc ---------------------------------------------------------

// The server's processes: one, or several behind a balancer (`serverPids`); the balancer's own
// (`balancerPids`: nginx's master and workers) are counted apart.
const serverPids = plan.serverPids ?? [plan.serverPid];
const balancerPids = plan.balancerPids ?? [];

function cpuSecondsOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the command name, proc(5)'s field 3 (state) comes first: utime and stime are 14, 15.
  return (Number(fields[11]) + Number(fields[12])) / plan.clockTicks;
}

function serverCpuEach() {
  return serverPids.map(cpuSecondsOf);
}

function serverCpuSeconds() {
  return serverCpuEach().reduce((a, b) => a + b, 0);
}

function balancerCpuSeconds() {
  return balancerPids.map(cpuSecondsOf).reduce((a, b) => a + b, 0);
}

function rssKiBOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const line = status.split("\n").find((l) => l.startsWith("VmRSS:"));
  return line ? Number(line.split(/\s+/)[1]) : 0;
}

function serverRssKiB() {
  return serverPids.map(rssKiBOf).reduce((a, b) => a + b, 0);
}

function generatorCpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

// CPU time every process on the machine used since boot, all cores (/proc/stat): what the
// server and the generator did not use of it, other programs took from them.
function machineCpuSeconds() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/);
  const ticks = fields.slice(1).map(Number);
  // user nice system idle iowait irq softirq steal...: busy is all but idle and iowait.
  return (ticks.reduce((a, b) => a + b, 0) - ticks[3] - ticks[4]) / plan.clockTicks;
}

// Where a phase started: wall clock, the server's, the generator's and the machine's CPU.
function mark() {
  return {
    at: performance.now(),
    server: serverCpuSeconds(),
    serverEach: serverCpuEach(),
    balancer: balancerCpuSeconds(),
    generator: generatorCpuSeconds(),
    machine: machineCpuSeconds(),
  };
}

function since(start) {
  const each = serverCpuEach().map((cpu, n) => cpu - start.serverEach[n]);
  const server = each.reduce((a, b) => a + b, 0);
  const balancer = balancerCpuSeconds() - start.balancer;
  const generator = generatorCpuSeconds() - start.generator;
  return {
    seconds: (performance.now() - start.at) / 1000,
    serverCpuSeconds: server,
    serverCpuSecondsEach: each,
    balancerCpuSeconds: balancer,
    generatorCpuSeconds: generator,
    othersCpuSeconds: Math.max(
      0,
      machineCpuSeconds() - start.machine - server - balancer - generator,
    ),
  };
}

// --- Figures --------------------------------------------------------------------------------

function percentile(sorted, fraction) {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.min(sorted.length, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1];
}

function summary(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : null,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const keyOf = (room, seq) => `${room}#${seq}`;

// --- The clients ----------------------------------------------------------------------------

// Arrivals while a step records: [key, time, client index].
let arrivals = [];
let recording = false;

class Client {
  constructor(index, spec) {
    this.index = index;
    this.spec = spec;
    this.streams = [];
    // Per stream, the seq the client starts from (its snapshot's).
    this.start = new Map();
    // (stream, seq) -> how many times it arrived, while recording.
    this.got = new Map();
    this.socket = null;
  }

  onEvent(payload) {
    const at = performance.now();
    if (!recording || payload === null || typeof payload !== "object") return;
    const key = keyOf(payload.room, payload.seq);
    this.got.set(key, (this.got.get(key) ?? 0) + 1);
    arrivals.push([key, at, this.index]);
  }

  // Connect, then sync from scratch; resolves once the sync reply is in.
  join() {
    return new Promise((resolve, reject) => {
      const socket = io(plan.url, {
        transports: ["websocket"],
        forceNew: true,
        reconnection: false,
        timeout: timeoutMs,
        auth: this.spec.auth,
      });
      this.socket = socket;
      socket.on("event", (payload) => this.onEvent(payload));
      socket.once("connect_error", (error) => reject(new Error(`connect_error: ${error.message}`)));
      socket.once("connect", async () => {
        try {
          const reply = await socket.timeout(timeoutMs).emitWithAck("sync", { resume: {} });
          if (!reply || !reply.ok) throw new Error(`sync refused: ${JSON.stringify(reply)}`);
          // The reply's size as JSON: about what went over the wire (before any deflate).
          this.syncBytes = JSON.stringify(reply).length;
          this.streams = reply.you.streams;
          for (const [stream, view] of Object.entries(reply.snapshots)) {
            this.start.set(stream, view.seq);
          }
          for (const event of reply.events) {
            this.start.set(event.room, Math.max(this.start.get(event.room) ?? 0, event.seq));
          }
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  // Emit a command; resolves to [ack or null, error or null, emit time, ack time].
  send(command, payload) {
    return new Promise((resolve) => {
      const emitted = performance.now();
      this.socket.timeout(timeoutMs).emit(command, payload, (error, ack) => {
        resolve([error ? null : ack, error ? String(error.message ?? error) : null, emitted,
          performance.now()]);
      });
    });
  }
}

const clients = plan.sockets.map((spec, index) => new Client(index, spec));

// --- Phase 1: everyone connects and syncs ---------------------------------------------------

async function connectAll() {
  const rssBefore = serverRssKiB();
  const start = mark();
  const failures = [];
  let next = 0;
  const deadline = performance.now() + plan.connectCapSeconds * 1000;
  async function worker() {
    while (next < clients.length && performance.now() < deadline) {
      const client = clients[next++];
      try {
        await client.join();
        client.connected = true;
      } catch (error) {
        failures.push(`${client.index}: ${error.message}`);
        client.socket?.disconnect();
      }
    }
  }
  const workers = Math.min(plan.connectConcurrency, clients.length);
  await Promise.all(Array.from({ length: workers }, worker));
  // Those the cap left unattempted count as failed too.
  if (next < clients.length) {
    failures.push(`${clients.length - next} never tried: the ${plan.connectCapSeconds} s cap passed`);
  }
  const used = since(start);
  const connected = clients.filter((c) => c.connected).length;
  // Let the server settle (the sockets' buffers, the last sync replies) before its RSS is read.
  await sleep(1000);
  const rssAfter = serverRssKiB();
  return {
    sockets: clients.length,
    connected,
    failed: clients.length - clients.filter((c) => c.connected).length,
    firstFailures: failures.slice(0, 5),
    ...used,
    rssBeforeKiB: rssBefore,
    rssAfterKiB: rssAfter,
    kibPerConnection: connected ? (rssAfter - rssBefore) / connected : null,
    syncBytes: summary(clients.filter((c) => c.connected).map((c) => c.syncBytes)),
  };
}

// --- Phase 2: what each room does before the workload ---------------------------------------

async function prepare() {
  const problems = [];
  await Promise.all(
    plan.prepare.map(async (steps) => {
      for (const step of steps) {
        if (!clients[step.socket].connected) {
          problems.push(`${step.command} by ${step.socket}: that socket is not connected`);
          return;
        }
        const [ack, error] = await clients[step.socket].send(step.command, step.payload);
        if (ack?.ok || (ack && (step.allow ?? []).includes(ack.error))) continue;
        problems.push(`${step.command} by ${step.socket}: ${error ?? JSON.stringify(ack)}`);
        return;
      }
    }),
  );
  return problems;
}

// --- Phase 3: the workload, one step at a time ----------------------------------------------

function followersByRoom() {
  const rooms = new Map();
  for (const client of clients) {
    if (!client.connected) continue;
    for (const stream of client.streams) {
      if (!rooms.has(stream)) rooms.set(stream, []);
      rooms.get(stream).push(client);
    }
  }
  return rooms;
}

async function runStep(step, followers) {
  arrivals = [];
  for (const client of clients) client.got = new Map();
  const senders = plan.senders.filter((s) => clients[s.socket].connected);
  const perSender = Math.max(1, Math.floor(step.seconds * step.rate));
  const periodMs = 1000 / step.rate;
  // (stream, seq) of each accepted command -> [emit time, sender index].
  const accepted = new Map();
  const ackMs = [];
  const refused = {};
  let expected = 0;
  recording = true;
  const start = mark();
  const startAt = start.at + 50;
  const sends = [];
  senders.forEach((sender, n) => {
    // Senders spread evenly over one period, as rooms that do not act in step.
    const offset = (n / senders.length) * periodMs;
    for (let k = 0; k < perSender; k++) {
      const due = startAt + offset + k * periodMs;
      sends.push(
        sleep(Math.max(0, due - performance.now())).then(async () => {
          const client = clients[sender.socket];
          const payload = { ...sender.payload, room: sender.room };
          const [ack, error, emitted, acked] = await client.send(sender.command, payload);
          if (ack?.ok) {
            ackMs.push(acked - emitted);
            accepted.set(keyOf(sender.room, ack.seq), [emitted, sender.socket, sender.room,
              ack.seq]);
            expected += (followers.get(sender.room) ?? []).length;
          } else {
            const reason = error ?? ack?.error ?? "no ack";
            refused[reason] = (refused[reason] ?? 0) + 1;
          }
        }),
      );
    }
  });
  await Promise.all(sends);
  const sentBy = performance.now();
  // Drain: until every accepted command reached every follower, or the cap.
  const drainUntil = sentBy + plan.drainSeconds * 1000;
  // (Cheap first: events of earlier commands may still trickle in, so only arrivals of this
  // step's accepted commands count, and they are counted only when they might be enough.)
  const arrivedOfStep = () => arrivals.reduce((n, [key]) => n + (accepted.has(key) ? 1 : 0), 0);
  while (
    (arrivals.length < expected || arrivedOfStep() < expected) &&
    performance.now() < drainUntil
  ) {
    await sleep(DRAIN_POLL_MS);
  }
  const used = since(start);
  recording = false;

  const fanoutMs = [];
  let inTime = 0;
  let othersExpected = 0;
  const seenFirst = new Set();
  for (const [key, at, receiver] of arrivals) {
    const sent = accepted.get(key);
    if (!sent || sent[1] === receiver) continue;
    const once = `${receiver}|${key}`;
    if (seenFirst.has(once)) continue;
    seenFirst.add(once);
    fanoutMs.push(at - sent[0]);
    if (at - sent[0] <= IN_TIME_MS) inTime += 1;
  }
  let delivered = 0;
  let lost = 0;
  let duplicates = 0;
  // A few of the deliveries that never came, to say who missed what.
  const lostSamples = [];
  for (const [key, [, sender, room, seq]] of accepted) {
    for (const client of followers.get(room) ?? []) {
      if ((client.start.get(room) ?? 0) >= seq) continue;
      const count = client.got.get(key) ?? 0;
      delivered += count;
      if (count === 0) {
        lost += 1;
        if (lostSamples.length < 5) lostSamples.push({ client: client.index, key, auth: client.spec.auth });
      }
      if (count > 1) duplicates += count - 1;
      if (client.index !== sender) othersExpected += 1;
    }
  }
  const commands = senders.length * perSender;
  // Every command sent, acked or not, owed its event to every other follower of its room: one
  // whose ack never came counts as not delivered in time.
  const owed = senders.reduce(
    (n, sender) => n + perSender * Math.max(0, (followers.get(sender.room) ?? []).length - 1),
    0,
  );
  return {
    rate: step.rate,
    plannedSeconds: step.seconds,
    commands,
    accepted: accepted.size,
    refused,
    ackMs: summary(ackMs),
    fanoutMs: summary(fanoutMs),
    expected,
    delivered,
    lost,
    lostSamples,
    duplicates,
    inTimeShare: owed ? inTime / owed : null,
    inTimeShareOfAcked: othersExpected ? inTime / othersExpected : null,
    ...used,
    sendingSeconds: (sentBy - start.at) / 1000,
    serverCpuMsPer1000: delivered ? (used.serverCpuSeconds * 1e6) / delivered : null,
  };
}

// --- The run --------------------------------------------------------------------------------

async function main() {
  const result = { connect: null, prepareProblems: [], steps: [], stoppedBecause: null };
  try {
    result.connect = await connectAll();
    result.prepareProblems = await prepare();
    // The events of what the rooms just did may still be on their way: let them land first.
    await sleep(SETTLE_MS);
    if (result.prepareProblems.length === 0) {
      const followers = followersByRoom();
      for (const step of plan.steps) {
        const figures = await runStep(step, followers);
        result.steps.push(figures);
        const p99 = figures.fanoutMs.p99;
        if (plan.stopAtP99Ms !== null && p99 !== null && p99 > plan.stopAtP99Ms) {
          result.stoppedBecause = `fan-out p99 ${p99.toFixed(0)} ms > ${plan.stopAtP99Ms} ms`;
          break;
        }
        if (figures.lost > 0 || Object.keys(figures.refused).length > 0) {
          result.stoppedBecause = `${figures.lost} lost, refused ${JSON.stringify(figures.refused)}`;
          break;
        }
      }
    }
  } catch (error) {
    result.error = String(error?.stack ?? error);
  }
  result.serverRssKiB = serverRssKiB();
  result.generatorRssKiB = Math.round(process.memoryUsage().rss / 1024);
  for (const client of clients) client.socket?.disconnect();
  writeFileSync(options.out, JSON.stringify(result, null, 1));
  process.exit(result.error ? 1 : 0);
}

main();
