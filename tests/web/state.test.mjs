// What the replay against the core (test_client_state.py) does not show: updates share what
// they leave alone, odd inputs are survived, the fallbacks and the small helpers.
// Run with `node --test tests/web/` (tests/web/test_node_units.py does).
import assert from "node:assert/strict";
import { test } from "node:test";
import { gini, roomFairness } from "../../web/static/js/fairness.js";
import {
  applyEvent,
  applyRoster,
  applySnapshots,
  compareIds,
  dropStreams,
  missingPeople,
} from "../../web/static/js/state.js";

const room = (id, changes = {}) => ({
  id,
  seq: 0,
  name: id,
  closed: false,
  locked: false,
  paused_at_ms: null,
  rules: {
    turn_limit_ms: 120000,
    warning_ms: 20000,
    reply_limit_ms: 30000,
    replies_per_turn: 2,
    policy: "first_come",
    auto: false,
  },
  jurors: [],
  facilitators: [],
  muted: [],
  floor: null,
  queue: [],
  replies: [],
  statements: [],
  nodes: [],
  polls: [],
  agenda: [],
  stats: {},
  ...changes,
});

const assembly = () => ({
  id: "jury",
  seq: 0,
  title: "Jury",
  public: true,
  pseudonymous: false,
  counts: { juror: 0, facilitator: 0, lead: 0 },
  round: null,
  announcements: [],
});

const client = (rooms, people = {}) =>
  applySnapshots(
    { audience: "member", assembly: null, rooms: {}, people },
    { assembly: assembly(), ...Object.fromEntries(rooms.map((r) => [r.id, r])) },
  );

const at = (type, roomId, seq, fields = {}) => ({
  type,
  room: roomId,
  seq,
  actor: "j1",
  at_ms: 1000,
  ...fields,
});

test("an event changes its room and nothing else, and leaves the old state as it was", () => {
  const before = client([room("plenary"), room("r1")]);
  const frozen = structuredClone(before);
  const after = applyEvent(before, at("hand_raised", "plenary", 1, { participant: "j1" }));
  assert.deepEqual(before, frozen);
  assert.notEqual(after, before);
  assert.equal(after.assembly, before.assembly, "the assembly view is shared");
  assert.equal(after.rooms.r1, before.rooms.r1, "other rooms are shared");
  assert.equal(after.rooms.plenary.nodes, before.rooms.plenary.nodes, "untouched parts too");
  assert.deepEqual(after.rooms.plenary.queue, [{ participant: "j1", raised_at_ms: 1000 }]);
  assert.equal(after.rooms.plenary.seq, 1);
});

test("an unknown event moves the seq on and changes nothing else", () => {
  const before = client([room("plenary")]);
  const after = applyEvent(before, at("something_new", "plenary", 1, { whatever: 1 }));
  assert.equal(after.rooms.plenary.seq, 1);
  assert.deepEqual({ ...after.rooms.plenary, seq: 0 }, before.rooms.plenary);
  const assemblyEvent = applyEvent(before, at("something_new", "assembly", 3));
  assert.equal(assemblyEvent.assembly.seq, 3);
});

test("an event of a room the client does not hold changes nothing", () => {
  const before = client([room("plenary")]);
  assert.equal(applyEvent(before, at("room_locked", "r9", 4)), before);
});

test("equity without the server's figures sums what the client holds", () => {
  // j2 spoke 50 s here and 100 s in r1; j3 spoke 120 s here: the sum puts j2 after j3.
  const equity = { ...room("x").rules, policy: "equity" };
  const plenary = room("plenary", {
    rules: equity,
    queue: [{ participant: "j3", raised_at_ms: 500 }],
    stats: {
      j2: { spoken_ms: 50000, turns: 1, longest_wait_ms: 0 },
      j3: { spoken_ms: 120000, turns: 1, longest_wait_ms: 0 },
    },
  });
  const r1 = room("r1", { stats: { j2: { spoken_ms: 100000, turns: 2, longest_wait_ms: 0 } } });
  const raised = at("hand_raised", "plenary", 1, { participant: "j2" });
  const guessed = applyEvent(client([plenary, r1]), raised);
  assert.deepEqual(
    guessed.rooms.plenary.queue.map((e) => e.participant),
    ["j3", "j2"],
  );
  // The server's figures win: with them, j2 has spoken less than j3 across the assembly.
  const figures = { j2: 60000, j3: 120000 };
  const told = applyEvent(client([plenary, r1]), { ...raised, spoken_ms: figures });
  assert.deepEqual(
    told.rooms.plenary.queue.map((e) => e.participant),
    ["j2", "j3"],
  );
});

test("equity breaks ties by who raised a hand first, and sorts stably", () => {
  const equity = { ...room("x").rules, policy: "equity" };
  const plenary = room("plenary", {
    rules: equity,
    queue: [
      { participant: "a", raised_at_ms: 1 },
      { participant: "b", raised_at_ms: 5 },
    ],
  });
  const after = applyEvent(
    client([plenary]),
    at("hand_raised", "plenary", 1, {
      participant: "c",
      at_ms: 3,
      spoken_ms: { a: 0, b: 0, c: 0 },
    }),
  );
  assert.deepEqual(
    after.rooms.plenary.queue.map((e) => e.participant),
    ["a", "c", "b"],
  );
});

test("snapshots replace views; dropping keeps only the streams still followed", () => {
  const before = client([room("plenary"), room("r1")]);
  const same = dropStreams(before, ["assembly", "plenary", "r1"]);
  assert.equal(same, before);
  const dropped = dropStreams(before, ["assembly", "r1"]);
  assert.deepEqual(Object.keys(dropped.rooms), ["r1"]);
  assert.equal(dropped.rooms.r1, before.rooms.r1);
  assert.equal(dropped.assembly, before.assembly);
  assert.equal(dropStreams(before, ["plenary"]).assembly, null);
  const fresh = room("r1", { seq: 9, locked: true });
  assert.deepEqual(applySnapshots(before, { r1: fresh }).rooms.r1, fresh);
});

test("a room snapshot's people go to the directory, not into the room kept", () => {
  const j1 = { name: "J1", role: "juror" };
  const before = client([], { j1 });
  const people = { j1: { name: "someone else", role: "juror" }, f1: { name: "F1", role: "facilitator" } };
  const after = applySnapshots(before, { r1: room("r1", { jurors: ["j1"], people }) });
  assert.equal("people" in after.rooms.r1, false);
  assert.equal(after.people.j1, j1, "names never change: the one known is kept");
  assert.deepEqual(after.people.f1, people.f1);
  assert.equal(applyRoster(after, { f1: people.f1 }), after, "nothing new: the same state");
});

test("whom the client shows but cannot name: per room followed, and the round for moderators", () => {
  const known = { j1: { name: "J1", role: "juror" } };
  const floor = { turn_id: "t", speaker: "j3", kind: "turn", started_at_ms: 0, deadline_ms: 1,
                  warning_at_ms: 1, paused_ms: 0, nodes: [] };
  const plenary = room("plenary", { jurors: ["j1", "j2"], floor, stats: { f9: {} } });
  const c = client([plenary, room("r1", { jurors: ["j1"] })], known);
  assert.deepEqual(missingPeople(c), [{ room: "plenary", ids: ["f9", "j2", "j3"] }]);
  const round = { id: "r", started: false, deadline_ms: null, recall_at_ms: null,
                  rooms: [{ room_id: "r1", name: "Room 1", jurors: ["j1", "j7"], facilitators: [] }] };
  const withRound = { ...c, assembly: { ...c.assembly, round } };
  assert.equal(missingPeople(withRound).length, 1, "members do not name the round's people");
  const moderator = { ...withRound, audience: "mod" };
  assert.deepEqual(missingPeople(moderator).at(-1), { room: null, ids: ["j7"] });
  const named = applyRoster(moderator, {
    j2: { name: "J2", role: "juror" }, j3: { name: "J3", role: "juror" },
    f9: { name: "F9", role: "facilitator" }, j7: { name: "J7", role: "juror" },
  });
  assert.deepEqual(missingPeople(named), []);
});

test("a move names who moved, as the audience may see them", () => {
  const moved = (audience) =>
    applyEvent(
      { ...client([room("r1"), room("r2", { facilitators: ["f2"] })]), audience },
      at("participant_moved", "assembly", 1, {
        participant: "f2", from_room: "r2", to_room: "r1", role: "facilitator",
        display_name: "F2", attributes: { area: "north" },
      }),
    );
  const mod = moved("mod");
  assert.deepEqual(mod.rooms.r1.facilitators, ["f2"], "a facilitator, not a juror");
  assert.deepEqual(mod.rooms.r2.facilitators, []);
  assert.deepEqual(mod.people.f2, { name: "F2", role: "facilitator", attributes: { area: "north" } });
  assert.deepEqual(moved("member").people.f2, { name: "F2", role: "facilitator" });
});

test("ids sort by code point, as Python sorts them", () => {
  const ids = ["b", "\u{1F600}", "\uFFFF", "a", "B"];
  assert.deepEqual([...ids].sort(compareIds), ["B", "a", "b", "\uFFFF", "\u{1F600}"]);
  assert.equal(compareIds("a", "a"), 0);
  assert.ok(compareIds("ab", "a") > 0);
});

test("gini: none or all zero is 0; one of two speaking all is 0.5", () => {
  assert.equal(gini([]), 0);
  assert.equal(gini([0, 0, 0]), 0);
  assert.equal(gini([5, 5]), 0);
  assert.equal(gini([0, 10]), 0.5);
  assert.ok(Math.abs(gini([1, 2, 3, 4]) - 0.25) < 1e-12);
});

test("fairness counts the live turn, stopped by a pause and capped by the deadline", () => {
  const people = { j1: { name: "J1", role: "juror", room: "plenary" } };
  const floor = {
    turn_id: "t1",
    speaker: "j1",
    kind: "turn",
    started_at_ms: 1000,
    deadline_ms: 61000,
    warning_at_ms: 41000,
    paused_ms: 5000,
    nodes: [],
  };
  const plenary = room("plenary", { jurors: ["j1", "j2"], floor });
  const live = client([plenary], people);
  const spoken = (c, now) => roomFairness(c, "plenary", now).speakers[0].spoken_ms;
  assert.equal(spoken(live, 11000), 5000);
  assert.equal(spoken(live, 100000), 55000, "capped by the deadline");
  const paused = client([{ ...plenary, paused_at_ms: 21000 }], people);
  assert.equal(spoken(paused, 100000), 15000, "stopped by the pause");
  const figures = roomFairness(live, "plenary", 11000);
  assert.deepEqual(figures.not_spoken, ["j1", "j2"]);
  assert.equal(figures.share_spoken, 0);
});

test("the assembly's creation names the plenary; people join it by role and audience", () => {
  const blank = { ...assembly(), title: "", seq: 0 };
  const start = (audience) =>
    applySnapshots(
      { audience, assembly: null, rooms: {}, people: {} },
      { assembly: blank, plenary: room("plenary", { name: "" }) },
    );
  const created = applyEvent(
    start("mod"),
    at("assembly_created", "assembly", 1, { title: "Jury", public: false, pseudonymous: true }),
  );
  assert.equal(created.rooms.plenary.name, "Plenary");
  assert.deepEqual(
    [created.assembly.title, created.assembly.public, created.assembly.pseudonymous],
    ["Jury", false, true],
  );
  const add = (client, participant, role, seq) =>
    applyEvent(
      client,
      at("participant_added", "assembly", seq, {
        participant,
        display_name: participant.toUpperCase(),
        role,
        attributes: { area: "north" },
        pseudonym: "Someone 1",
      }),
    );
  for (const audience of ["mod", "member"]) {
    let c = start(audience);
    c = add(c, "j1", "juror", 1);
    c = add(c, "f1", "facilitator", 2);
    c = add(c, "lead", "lead", 3);
    c = add(c, "press", "observer", 4);
    assert.deepEqual(Object.keys(c.people), ["j1", "f1", "lead"]);
    assert.deepEqual(c.assembly.counts, { juror: 1, facilitator: 1, lead: 1 });
    assert.deepEqual(c.rooms.plenary.jurors, ["j1"]);
    assert.deepEqual(c.rooms.plenary.facilitators, ["f1"]);
    assert.equal(c.assembly.seq, 4);
    const attributes = c.people.j1.attributes;
    assert.deepEqual(attributes, audience === "mod" ? { area: "north" } : undefined);
  }
});

test("fairness of a room the client does not hold is a clear error", () => {
  assert.throws(() => roomFairness(client([room("plenary")]), "r1", 0), /no view of room r1/);
});
