// The voice's pure part: the state line's reason, the safe-direction mute switch, the level.
// Run with `node --test tests/web/` (tests/web/test_node_units.py does).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  levelOf,
  mayUnmuteSelf,
  roomWhy,
  voiceAvailable,
  voiceLine,
} from "../../web/static/js/voicestate.js";

const room = (changes = {}) => ({
  id: "plenary",
  paused_at_ms: null,
  rules: { open_floor: false },
  muted: [],
  floor: null,
  queue: [],
  replies: [],
  ...changes,
});
const joined = (why, muted = true, roomId = "plenary") => ({
  available: true, joined: true, room: roomId, muted, why,
});

test("without the server's word, the room decides: floor, open floor, muted, paused", () => {
  assert.equal(roomWhy(room(), "j1", "juror"), "no_floor");
  assert.equal(roomWhy(room({ floor: { speaker: "j1" } }), "j1", "juror"), "floor");
  assert.equal(roomWhy(room({ floor: { speaker: "j2" } }), "j1", "juror"), "no_floor");
  assert.equal(roomWhy(room({ rules: { open_floor: true } }), "j1", "juror"), "open_floor");
  const mutedInOpenFloor = room({ rules: { open_floor: true }, muted: ["j1"] });
  assert.equal(roomWhy(mutedInOpenFloor, "j1", "juror"), "muted");
  assert.equal(roomWhy(room({ paused_at_ms: 5, floor: { speaker: "j1" } }), "j1", "juror"), "paused");
  assert.equal(roomWhy(room(), "f1", "facilitator"), "moderator");
  assert.equal(roomWhy(room(), "lead", "lead"), "moderator");
});

test("once joined, the server's reason and mute win over the room's", () => {
  const line = voiceLine({ available: true, server: joined("muted"), room: room({ floor: { speaker: "j1" } }),
                           me: "j1", role: "juror" });
  assert.deepEqual(line, { why: "muted", joined: true, live: false, waiting: false });
  const live = voiceLine({ available: true, server: joined("floor", false), room: room(), me: "j1",
                           role: "juror" });
  assert.deepEqual(live, { why: "floor", joined: true, live: true, waiting: false });
});

test("a voice joined in another room, or on a server without voice, says nothing of this room", () => {
  const elsewhere = voiceLine({ available: true, server: joined("floor", false, "r1-2"), room: room(),
                                me: "j1", role: "juror" });
  assert.deepEqual(elsewhere, { why: "no_floor", joined: false, live: false, waiting: false });
  const off = voiceLine({ available: false, server: joined("floor", false), room: room(), me: "j1",
                          role: "juror" });
  assert.equal(off.joined, false);
});

test("a person whose hand is up, or who asked to reply, is told they wait", () => {
  const queued = room({ queue: [{ participant: "j1", raised_at_ms: 1 }] });
  assert.equal(voiceLine({ available: false, server: null, room: queued, me: "j1", role: "juror" }).waiting, true);
  const replying = room({ replies: [{ participant: "j1", raised_at_ms: 1 }] });
  assert.equal(voiceLine({ available: false, server: null, room: replying, me: "j1", role: "juror" }).waiting, true);
  assert.equal(voiceLine({ available: false, server: null, room: queued, me: "j2", role: "juror" }).waiting, false);
});

test("the mute switch unmutes only when the person may be heard", () => {
  const line = (why) => ({ why, joined: true, live: false });
  for (const why of ["floor", "open_floor", "moderator"]) assert.equal(mayUnmuteSelf(line(why), "no_floor"), true);
  for (const why of ["no_floor", "muted", "paused", "off"]) assert.equal(mayUnmuteSelf(line(why), "floor"), false);
  // Muted by oneself: back only if the room would let one be heard.
  assert.equal(mayUnmuteSelf(line("self"), "floor"), true);
  assert.equal(mayUnmuteSelf(line("self"), "no_floor"), false);
  assert.equal(mayUnmuteSelf({ why: "floor", joined: false, live: false }, "floor"), false);
});

test("voice is offered only when the sync reply says so and no join was refused as voiceless", () => {
  assert.equal(voiceAvailable({ role: "juror" }, null, false), false);
  assert.equal(voiceAvailable({ voice: { available: false } }, null, false), false);
  assert.equal(voiceAvailable({ voice: { available: true } }, null, false), true);
  assert.equal(voiceAvailable({ voice: { available: true } }, null, true), false);
  assert.equal(voiceAvailable({ voice: { available: true } }, joined("off"), false), true);
  assert.equal(voiceAvailable({ voice: { available: true } }, { ...joined("off"), available: false }, false), false);
});

test("the level is 0 for silence, grows with loudness, and stops at 1", () => {
  assert.equal(levelOf([]), 0);
  assert.equal(levelOf(new Float32Array(512)), 0);
  const quiet = levelOf(Array.from({ length: 512 }, (_, i) => 0.02 * Math.sin(i / 5)));
  const loud = levelOf(Array.from({ length: 512 }, (_, i) => 0.1 * Math.sin(i / 5)));
  assert.ok(quiet > 0 && quiet < loud, `${quiet} < ${loud}`);
  assert.equal(levelOf(new Float32Array(512).fill(1)), 1);
});
