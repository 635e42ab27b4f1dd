// Replays what the server sent one or more viewers through the browser's state code, and prints
// the client state and fairness figures at every checkpoint (tests/web/test_client_state.py
// compares them with the core's own views and metrics).
//
//   node tests/web/replay.mjs fixture.json result.json
//
// The fixture: {viewers: [{name, audience, snapshots, steps, directory}]}, where a step is one of
//   {event: payload}                       an event of a followed stream, as delivered
//   {moved: {you: {streams}, snapshots}}   the streams followed changed
//   {check: {label, at: [now_ms...]}}      record the state, and each room's fairness at each time
// After each step the client asks `roster` for whom it cannot name, as the page does
// (connection.js), once per person; `directory` (what the server's `roster` names) answers.
import { readFileSync, writeFileSync } from "node:fs";
import { roomFairness } from "../../web/static/js/fairness.js";
import {
  applyEvent,
  applyRoster,
  applySnapshots,
  dropStreams,
  missingPeople,
} from "../../web/static/js/state.js";

/** Freeze a whole state: ES modules are strict, so any update made in place then throws. */
function deepFreeze(value) {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
  return value;
}

function replay(viewer) {
  let client = applySnapshots(
    { audience: viewer.audience, assembly: null, rooms: {}, people: {} },
    viewer.snapshots,
  );
  // A viewer recorded without one (bench/soak_check.py's) is answered nobody.
  const directory = viewer.directory ?? {};
  const checks = [];
  const asked = [];
  const askedFor = new Set();
  const askForPeople = () => {
    for (const { room, ids } of missingPeople(client)) {
      const fresh = ids.filter((id) => !askedFor.has(id));
      if (fresh.length === 0) continue;
      for (const id of fresh) askedFor.add(id);
      asked.push({ room, ids: fresh, followed: Object.keys(client.rooms) });
      const people = Object.fromEntries(
        fresh.filter((id) => directory[id]).map((id) => [id, directory[id]]),
      );
      client = applyRoster(client, people);
    }
  };
  for (const step of viewer.steps) {
    deepFreeze(client);
    if (step.event) {
      client = applyEvent(client, step.event);
      askForPeople();
    } else if (step.moved) {
      client = dropStreams(client, step.moved.you.streams);
      client = applySnapshots(client, step.moved.snapshots);
      askForPeople();
    } else if (step.check) {
      const fairness = Object.fromEntries(
        Object.keys(client.rooms).map((id) => [
          id,
          step.check.at.map((now) => roomFairness(client, id, now)),
        ]),
      );
      checks.push({ label: step.check.label, client, fairness, asked: [...asked] });
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }
  return { name: viewer.name, checks };
}

const [input, output] = process.argv.slice(2);
const fixture = JSON.parse(readFileSync(input, "utf8"));
writeFileSync(output, JSON.stringify({ viewers: fixture.viewers.map(replay) }));
