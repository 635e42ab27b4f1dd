// Replays what the server sent one or more viewers through the browser's state code, and prints
// the client state and fairness figures at every checkpoint (tests/web/test_client_state.py
// compares them with the core's own views and metrics).
//
//   node tests/web/replay.mjs fixture.json result.json
//
// The fixture: {viewers: [{name, audience, snapshots, steps}]}, where a step is one of
//   {event: payload}                       an event of a followed stream, as delivered
//   {moved: {you: {streams}, snapshots}}   the streams followed changed
//   {check: {label, at: [now_ms...]}}      record the state, and each room's fairness at each time
import { readFileSync, writeFileSync } from "node:fs";
import { roomFairness } from "../../web/static/js/fairness.js";
import { applyEvent, applySnapshots, dropStreams } from "../../web/static/js/state.js";

/** Freeze a whole state: ES modules are strict, so any update made in place then throws. */
function deepFreeze(value) {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
  return value;
}

function replay(viewer) {
  let client = applySnapshots(
    { audience: viewer.audience, assembly: null, rooms: {} },
    viewer.snapshots,
  );
  const checks = [];
  for (const step of viewer.steps) {
    deepFreeze(client);
    if (step.event) {
      client = applyEvent(client, step.event);
    } else if (step.moved) {
      client = dropStreams(client, step.moved.you.streams);
      client = applySnapshots(client, step.moved.snapshots);
    } else if (step.check) {
      const fairness = Object.fromEntries(
        Object.keys(client.rooms).map((id) => [
          id,
          step.check.at.map((now) => roomFairness(client, id, now)),
        ]),
      );
      checks.push({ label: step.check.label, client, fairness });
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }
  return { name: viewer.name, checks };
}

const [input, output] = process.argv.slice(2);
const fixture = JSON.parse(readFileSync(input, "utf8"));
writeFileSync(output, JSON.stringify({ viewers: fixture.viewers.map(replay) }));
