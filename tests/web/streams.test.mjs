// StreamSequencer: each payload once, in seq order, per stream; gaps held back, then reported.
// Run with `node --test tests/web/` (tests/web/test_node_units.py does).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StreamSequencer } from "../../web/static/js/streams.js";

/** A sequencer whose applied payloads, reported gaps and timers the test can see and drive. */
function harness(options = {}) {
  const applied = [];
  const gaps = [];
  const timers = new Map();
  let nextTimer = 1;
  const sequencer = new StreamSequencer({
    apply: (payload) => applied.push(`${payload.room}:${payload.seq}`),
    onGap: (gap) => gaps.push(gap),
    gapMs: 1000,
    setTimer: (run, ms) => {
      const id = nextTimer++;
      timers.set(id, { run, ms });
      return id;
    },
    clearTimer: (id) => timers.delete(id),
    ...options,
  });
  const fire = () => {
    const pending = [...timers.entries()];
    timers.clear();
    for (const [, timer] of pending) timer.run();
  };
  return { sequencer, applied, gaps, timers, fire };
}

const ev = (room, seq) => ({ type: "hand_raised", room, seq });

describe("in order", () => {
  test("applies payloads that follow the snapshot, each once", () => {
    const { sequencer, applied } = harness();
    sequencer.reset("plenary", 4);
    assert.equal(sequencer.receive(ev("plenary", 5)), 1);
    assert.equal(sequencer.receive(ev("plenary", 6)), 1);
    assert.deepEqual(applied, ["plenary:5", "plenary:6"]);
    assert.deepEqual(sequencer.lastSeqs(), { plenary: 6 });
  });

  test("drops what the state already holds: repeats and what the snapshot covered", () => {
    const { sequencer, applied } = harness();
    sequencer.reset("plenary", 4);
    for (const seq of [3, 4, 5, 5, 4]) sequencer.receive(ev("plenary", seq));
    assert.deepEqual(applied, ["plenary:5"]);
    assert.equal(sequencer.buffered("plenary"), 0);
  });

  test("keeps each stream's seqs apart", () => {
    const { sequencer, applied } = harness();
    sequencer.reset("assembly", 10);
    sequencer.reset("plenary", 1);
    sequencer.receive(ev("plenary", 2));
    sequencer.receive(ev("assembly", 11));
    sequencer.receive(ev("plenary", 3));
    assert.deepEqual(applied, ["plenary:2", "assembly:11", "plenary:3"]);
    assert.deepEqual(sequencer.lastSeqs(), { assembly: 11, plenary: 3 });
    assert.deepEqual(sequencer.streams().sort(), ["assembly", "plenary"]);
  });
});

describe("gaps", () => {
  test("holds back payloads after a gap and applies them once it fills", () => {
    const { sequencer, applied, timers } = harness();
    sequencer.reset("r1", 0);
    assert.equal(sequencer.receive(ev("r1", 3)), 0);
    assert.equal(sequencer.receive(ev("r1", 2)), 0);
    assert.equal(sequencer.buffered("r1"), 2);
    assert.equal(timers.size, 1, "a gap starts its timer");
    assert.equal(sequencer.receive(ev("r1", 1)), 3);
    assert.deepEqual(applied, ["r1:1", "r1:2", "r1:3"]);
    assert.equal(timers.size, 0, "a filled gap stops it");
  });

  test("reports a gap that lasts, with where it is", () => {
    const { sequencer, gaps, fire } = harness();
    sequencer.reset("r1", 7);
    sequencer.receive(ev("r1", 9));
    sequencer.receive(ev("r1", 10));
    assert.deepEqual(gaps, []);
    fire();
    assert.deepEqual(gaps, [{ stream: "r1", lastSeq: 7, waitingFor: 8, buffered: 2 }]);
  });

  test("does not report a gap that filled in time", () => {
    const { sequencer, gaps, fire, timers } = harness();
    sequencer.reset("r1", 0);
    sequencer.receive(ev("r1", 2));
    const [timer] = timers.values();
    sequencer.receive(ev("r1", 1));
    timer.run(); // A timer that fires late, after all.
    fire();
    assert.deepEqual(gaps, []);
  });

  test("reports again while the gap stays and more payloads arrive", () => {
    const { sequencer, gaps, fire } = harness();
    sequencer.reset("r1", 0);
    sequencer.receive(ev("r1", 2));
    fire();
    sequencer.receive(ev("r1", 3));
    fire();
    assert.equal(gaps.length, 2);
  });

  test("reports at once, and once, when too many payloads wait", () => {
    const { sequencer, gaps, timers } = harness({ maxBuffered: 3 });
    sequencer.reset("r1", 0);
    for (const seq of [2, 3, 4]) sequencer.receive(ev("r1", seq));
    assert.deepEqual(gaps, []);
    sequencer.receive(ev("r1", 5));
    sequencer.receive(ev("r1", 6));
    assert.equal(gaps.length, 1);
    assert.equal(gaps[0].buffered, 4);
    assert.equal(timers.size, 0);
  });

  test("a snapshot that covers the gap resumes after it", () => {
    const { sequencer, applied, timers } = harness();
    sequencer.reset("r1", 0);
    for (const seq of [3, 4, 6]) sequencer.receive(ev("r1", seq));
    assert.equal(sequencer.reset("r1", 4), 0);
    assert.equal(sequencer.buffered("r1"), 1, "3 and 4 are in the snapshot, 6 still waits");
    sequencer.receive(ev("r1", 5));
    assert.deepEqual(applied, ["r1:5", "r1:6"]);
    assert.equal(timers.size, 0);
  });
});

describe("snapshots", () => {
  test("payloads that come before a stream's first snapshot wait for it", () => {
    const { sequencer, applied, timers } = harness();
    sequencer.receive(ev("r2", 4));
    sequencer.receive(ev("r2", 5));
    assert.deepEqual(applied, []);
    assert.deepEqual(sequencer.streams(), []);
    assert.equal(timers.size, 1);
    assert.equal(sequencer.reset("r2", 4), 1);
    assert.deepEqual(applied, ["r2:5"]);
    assert.equal(timers.size, 0);
  });

  test("an unanswered wait for a snapshot is reported as such", () => {
    const { sequencer, gaps, fire } = harness();
    sequencer.receive(ev("r2", 4));
    fire();
    assert.deepEqual(gaps, [{ stream: "r2", lastSeq: null, waitingFor: null, buffered: 1 }]);
  });

  test("a fresh snapshot replaces the state: its seq is the one to follow, even if older", () => {
    const { sequencer, applied } = harness();
    sequencer.reset("r1", 5);
    sequencer.receive(ev("r1", 6));
    sequencer.reset("r1", 5);
    sequencer.receive(ev("r1", 6));
    assert.deepEqual(applied, ["r1:6", "r1:6"]);
  });

  test("forgetting a stream drops its seq, what waits and its timer", () => {
    const { sequencer, applied, timers } = harness();
    sequencer.reset("r1", 1);
    sequencer.receive(ev("r1", 3));
    sequencer.forget("r1");
    assert.deepEqual(sequencer.lastSeqs(), {});
    assert.equal(sequencer.buffered("r1"), 0);
    assert.equal(timers.size, 0);
    sequencer.receive(ev("r1", 2));
    assert.deepEqual(applied, [], "no longer followed: it waits for a snapshot again");
  });

  test("close cancels every timer", () => {
    const { sequencer, timers } = harness();
    sequencer.receive(ev("r1", 2));
    sequencer.receive(ev("r2", 2));
    assert.equal(timers.size, 2);
    sequencer.close();
    assert.equal(timers.size, 0);
  });
});

test("a payload that applying feeds back in is not applied twice", () => {
  const seen = [];
  const sequencer = new StreamSequencer({
    apply: (payload) => {
      seen.push(payload.seq);
      sequencer.receive(payload); // e.g. the same event echoed by a second transport
      if (payload.seq === 1) sequencer.receive(ev("r1", 2));
    },
  });
  sequencer.reset("r1", 0);
  sequencer.receive(ev("r1", 1));
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(sequencer.lastSeqs(), { r1: 2 });
});

test("real timers: a lasting gap is reported after gapMs", async () => {
  const gaps = [];
  const onGap = (gap) => gaps.push(gap);
  const sequencer = new StreamSequencer({ apply: () => {}, onGap, gapMs: 5 });
  sequencer.reset("r1", 0);
  sequencer.receive(ev("r1", 2));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(gaps.length, 1);
  sequencer.close();
});
