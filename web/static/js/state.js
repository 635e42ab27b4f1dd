// The browser's copy of what the server shows one viewer: the assembly view and the views of
// the rooms it follows (`server/views.py`), kept up to date by applying the events it receives
// (`server/audience.py`) the way `evolve` applies them in the core (`facilitation/`).
//
// Names come apart from the views: each room view carries the people it names (`people`), which
// are folded into one directory (`client.people`) kept beside the views; `participant_added`
// and `participant_moved` add to it, and `roster` replies fill what is still missing
// (`missingPeople` says what to ask for). Names never change, so the directory only grows.
//
// Every update returns a new object and shares whatever did not change, so Preact re-renders
// only what an event touched. Nothing here reads a clock, a socket or the DOM: Node runs it
// as it is, and tests/web checks it against the core event by event.

export const ASSEMBLY_STREAM = "assembly";
export const PLENARY_ROOM = "plenary";

/**
 * @typedef {"mod" | "member" | "obs"} Audience
 * @typedef {{participant: string, raised_at_ms: number}} QueueEntry
 * @typedef {{spoken_ms: number, turns: number, longest_wait_ms: number,
 *   voiced_ms: number}} SpeakerStats
 * @typedef {{turn_id: string, speaker: string, kind: "turn" | "reply", started_at_ms: number,
 *   deadline_ms: number, warning_at_ms: number, paused_ms: number, nodes: string[]}} Floor
 * @typedef {{node_id: string, kind: string, parent: string | null, stance: string | null,
 *   author: string, text: string | null, posted_at_ms: number, hidden: boolean,
 *   moderation: {action: string, actor: string, reason: string}[], endorsers: string[],
 *   merged_into: string | null, turns: string[], origin: string | null}} NodeView
 * @typedef {{poll_id: string, question: string, kind: string, options: string[],
 *   secret: boolean, open: boolean, voters: number, totals: number[],
 *   votes: Record<string, number[]>}} PollView
 * @typedef {{item_id: string, title: string, duration_ms: number, question_id: string | null,
 *   status: "pending" | "running" | "done", deadline_ms: number | null}} AgendaItemView
 * @typedef {{turn_limit_ms: number, warning_ms: number, reply_limit_ms: number,
 *   replies_per_turn: number, policy: "first_come" | "equity", auto: boolean,
 *   open_floor: boolean}} Rules
 * @typedef {{id: string, seq: number, name: string, closed: boolean, locked: boolean,
 *   paused_at_ms: number | null, rules: Rules, jurors: string[], facilitators: string[],
 *   muted: string[], mute_reasons: Record<string, string>, floor: Floor | null, queue: QueueEntry[], replies: QueueEntry[],
 *   statements: object[], nodes: NodeView[], polls: PollView[], agenda: AgendaItemView[],
 *   stats: Record<string, SpeakerStats>, opened_at_ms: number | null,
 *   notes: {at_ms: number, author: string, text: string}[], carry: CarryView | null}} RoomView
 * @typedef {{name: string, role: string, attributes?: Record<string, string>}} Person
 * @typedef {{participant: string, reason: string, at_ms: number}} Objection
 * @typedef {{positions: string[], arguments: string[], proposed_by: string,
 *   proposed_at_ms: number, objections: Objection[]}} CarryView
 * @typedef {{node_id: string, stance: string, text: string, endorsements: number}} MapArgument
 * @typedef {{entry_id: string, round_id: string, room: string, room_name: string,
 *   node_id: string, text: string, endorsements: number, arguments: MapArgument[],
 *   marked_by: string | null, merged_into: string | null}} MapEntry
 * @typedef {{proposal_id: string, round_id: string, first: string, second: string,
 *   similarity: number, shared: string[], status: "open" | "confirmed" | "rejected",
 *   decided_by: string | null}} MergeProposal
 * @typedef {{entries: MapEntry[], objections: Record<string, Objection[]>,
 *   proposals: MergeProposal[]}} SynthesisView
 * @typedef {{room_id: string, name: string, jurors: string[], facilitators: string[]}} RoundRoom
 * @typedef {{id: string, started: boolean, deadline_ms: number | null,
 *   recall_at_ms: number | null, rooms: RoundRoom[]}} RoundView
 * @typedef {{id: string, seq: number, title: string, public: boolean, pseudonymous: boolean,
 *   counts: Record<string, number>, round: RoundView | null,
 *   announcements: {at_ms: number, text: string}[], alarms: FairnessAlarms,
 *   synthesis: SynthesisView}} AssemblyView
 * @typedef {{unspoken_after_ms: number | null, max_gini: number | null,
 *   max_wait_ms: number | null, min_stratum_ratio: number | null}} FairnessAlarms
 * @typedef {{audience: Audience, assembly: AssemblyView | null,
 *   rooms: Record<string, RoomView>, people?: Record<string, Person>}} ClientState
 * @typedef {{type: string, room: string, seq: number, actor: string, at_ms: number,
 *   [field: string]: any}} Payload
 */

// --- Public API ------------------------------------------------------------------------------

/**
 * The state after one event of a followed stream; `client` itself is left untouched.
 * Events must come in seq order per stream (see streams.js).
 * @param {ClientState} client
 * @param {Payload} payload
 * @returns {ClientState}
 */
export function applyEvent(client, payload) {
  const effect = EFFECTS[payload.type];
  // An unknown event (a newer server) still moves the seq on, so the next one is not a gap.
  const changed = effect ? effect(client, payload) : client;
  return bumpSeq(changed, payload);
}

/**
 * Replace the views of the given streams by fresh snapshots (`sync`, `moved`).
 * @param {ClientState} client
 * @param {Record<string, any>} snapshots stream -> assembly view or room view
 * @returns {ClientState}
 */
export function applySnapshots(client, snapshots) {
  let next = client;
  if (snapshots[ASSEMBLY_STREAM]) next = { ...next, assembly: snapshots[ASSEMBLY_STREAM] };
  for (const [stream, view] of Object.entries(snapshots)) {
    if (stream === ASSEMBLY_STREAM) continue;
    // The room's people go to the directory: the view kept is the room's alone.
    const { people, ...room } = view;
    next = { ...next, rooms: { ...next.rooms, [stream]: room } };
    next = applyRoster(next, people ?? {});
  }
  return next;
}

/**
 * Add people to the directory (a room snapshot's `people`, a `roster` reply's).
 * @param {ClientState} client
 * @param {Record<string, Person>} people
 * @returns {ClientState}
 */
export function applyRoster(client, people) {
  const known = client.people ?? {};
  const fresh = Object.keys(people).filter((id) => known[id] === undefined);
  if (fresh.length === 0) return client.people ? client : { ...client, people: known };
  return { ...client, people: { ...known, ...Object.fromEntries(fresh.map((id) => [id, people[id]])) } };
}

/**
 * Everyone a room's view names, as the server's `views.room_people` lists them.
 * @param {RoomView} room
 * @returns {Set<string>}
 */
export function namedIn(room) {
  const named = new Set([...room.jurors, ...room.facilitators, ...room.muted]);
  for (const id of Object.keys(room.stats)) named.add(id);
  for (const entry of [...room.queue, ...room.replies]) named.add(entry.participant);
  for (const statement of room.statements) named.add(statement.speaker);
  if (room.floor) named.add(room.floor.speaker);
  for (const node of room.nodes) {
    named.add(node.author);
    for (const id of node.endorsers) named.add(id);
    for (const step of node.moderation) named.add(step.actor);
  }
  for (const poll of room.polls) if (!poll.secret) for (const id of Object.keys(poll.votes)) named.add(id);
  for (const note of room.notes ?? []) named.add(note.author);
  return named;
}

/**
 * Whom the client shows but cannot name: per room followed, the ids its view names that the
 * directory lacks (someone back from a breakout room the client did not follow); `null` for
 * the round's people a moderator cannot name (asked for as everyone's roster).
 * @param {ClientState} client
 * @returns {{room: string | null, ids: string[]}[]}
 */
export function missingPeople(client) {
  const known = client.people ?? {};
  const wanted = [];
  for (const [id, room] of Object.entries(client.rooms)) {
    const ids = [...namedIn(room)].filter((p) => known[p] === undefined && p !== "system");
    if (ids.length) wanted.push({ room: id, ids: ids.sort(compareIds) });
  }
  const round = client.assembly?.round;
  if (client.audience === "mod" && round) {
    const ids = round.rooms
      .flatMap((r) => [...r.jurors, ...r.facilitators])
      .filter((p) => known[p] === undefined);
    if (ids.length) wanted.push({ room: null, ids: [...new Set(ids)].sort(compareIds) });
  }
  return wanted;
}

/**
 * Forget the views of streams no longer followed.
 * @param {ClientState} client
 * @param {Iterable<string>} keep the streams still followed
 * @returns {ClientState}
 */
export function dropStreams(client, keep) {
  const kept = new Set(keep);
  const rooms = Object.keys(client.rooms).filter((id) => kept.has(id));
  const next =
    rooms.length === Object.keys(client.rooms).length
      ? client
      : { ...client, rooms: Object.fromEntries(rooms.map((id) => [id, client.rooms[id]])) };
  return kept.has(ASSEMBLY_STREAM) || next.assembly === null ? next : { ...next, assembly: null };
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Orders ids as Python's `sorted` does (by code point), which the views use for sets.
 * @param {string} a
 * @param {string} b
 */
export function compareIds(a, b) {
  if (a === b) return 0;
  // UTF-16 order only differs from code point order past U+FFFF (surrogate pairs).
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : 1;
  const x = Array.from(a, (c) => /** @type {number} */ (c.codePointAt(0)));
  const y = Array.from(b, (c) => /** @type {number} */ (c.codePointAt(0)));
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}

// --- Small immutable helpers -----------------------------------------------------------------

/** @param {string[]} list @param {string} id */
const addId = (list, id) => (list.includes(id) ? list : [...list, id].sort(compareIds));
/** @param {string[]} list @param {Iterable<string>} ids */
const addIds = (list, ids) => [...new Set([...list, ...ids])].sort(compareIds);
/** @param {string[]} list @param {string} id */
const dropId = (list, id) => (list.includes(id) ? list.filter((x) => x !== id) : list);
/** @param {QueueEntry[]} lane @param {string} id */
const withoutEntry = (lane, id) =>
  lane.some((e) => e.participant === id) ? lane.filter((e) => e.participant !== id) : lane;

/**
 * @param {ClientState} client
 * @param {string} roomId
 * @param {(room: RoomView) => RoomView} change
 * @returns {ClientState}
 */
function withRoom(client, roomId, change) {
  const room = client.rooms[roomId];
  if (!room) return client;
  const changed = change(room);
  return changed === room ? client : { ...client, rooms: { ...client.rooms, [roomId]: changed } };
}

/**
 * @param {ClientState} client
 * @param {(assembly: AssemblyView) => AssemblyView} change
 * @returns {ClientState}
 */
function withAssembly(client, change) {
  if (!client.assembly) return client;
  const changed = change(client.assembly);
  return changed === client.assembly ? client : { ...client, assembly: changed };
}

/**
 * @template T
 * @param {T[]} list
 * @param {(item: T) => boolean} pick
 * @param {(item: T) => T} change
 */
function updateWhere(list, pick, change) {
  let touched = false;
  const next = list.map((item) => {
    if (!pick(item)) return item;
    touched = true;
    return change(item);
  });
  return touched ? next : list;
}

/** @param {RoomView} room @param {string} nodeId @param {(n: NodeView) => NodeView} change */
const withNode = (room, nodeId, change) => ({
  ...room,
  nodes: updateWhere(room.nodes, (n) => n.node_id === nodeId, change),
});

/** @param {RoomView} room @param {string} pollId @param {(p: PollView) => PollView} change */
const withPoll = (room, pollId, change) => ({
  ...room,
  polls: updateWhere(room.polls, (p) => p.poll_id === pollId, change),
});

/**
 * @param {RoomView} room
 * @param {string} itemId
 * @param {(i: AgendaItemView) => AgendaItemView} change
 */
const withItem = (room, itemId, change) => ({
  ...room,
  agenda: updateWhere(room.agenda, (i) => i.item_id === itemId, change),
});

/** @param {ClientState} client @param {Payload} e */
function bumpSeq(client, e) {
  if (e.room === ASSEMBLY_STREAM) {
    return withAssembly(client, (a) => (a.seq === e.seq ? a : { ...a, seq: e.seq }));
  }
  return withRoom(client, e.room, (r) => (r.seq === e.seq ? r : { ...r, seq: e.seq }));
}

/** @param {RoomView} room @param {string} speaker */
const statsOf = (room, speaker) =>
  room.stats[speaker] ?? { spoken_ms: 0, turns: 0, longest_wait_ms: 0, voiced_ms: 0 };

// --- The queue's policies (facilitation/queue.py) ----------------------------------------------

/**
 * A participant's speaking time across the assembly, which the equity policy orders by.
 * It adds up time spoken in every room, and a client holds only the rooms it follows, so the
 * server sends the figures with the events that sort by them (`spoken_ms`). Without them, the
 * best the client knows is the sum over the rooms it holds: short of the truth for anyone who
 * spoke in a room the client does not hold (another breakout, a room it has dropped).
 * @param {ClientState} client
 * @param {Payload} e
 * @returns {(participant: string) => number}
 */
const spokenMs = (client, e) => (participant) =>
  e.spoken_ms?.[participant] ??
  Object.values(client.rooms).reduce((sum, r) => sum + (r.stats[participant]?.spoken_ms ?? 0), 0);

/** Least speaking time first; among equals, whoever has waited longest. */
/** @param {QueueEntry} entry @param {(p: string) => number} spoken */
const equityKey = (entry, spoken) => [spoken(entry.participant), entry.raised_at_ms];
/** Tuple order, as Python compares `(spoken_ms, raised_at_ms)`. */
/** @param {number[]} a @param {number[]} b */
const compareKeys = (a, b) => a[0] - b[0] || a[1] - b[1];

/**
 * @param {QueueEntry[]} queue
 * @param {QueueEntry} entry
 * @param {string} policy
 * @param {(p: string) => number} spoken
 */
function insertionIndex(queue, entry, policy, spoken) {
  if (policy === "first_come") return queue.length;
  const key = equityKey(entry, spoken);
  const at = queue.findIndex((queued) => compareKeys(equityKey(queued, spoken), key) > 0);
  return at === -1 ? queue.length : at;
}

/** A stable sort, as Python's `sorted`. */
/** @param {QueueEntry[]} queue @param {(p: string) => number} spoken */
const equityOrder = (queue, spoken) =>
  [...queue].sort((a, b) => compareKeys(equityKey(a, spoken), equityKey(b, spoken)));

// --- Speaking turns (facilitation/turns.py) ------------------------------------------------

/** @type {Record<string, (client: ClientState, e: Payload) => ClientState>} */
const TURNS = {
  hand_raised: (c, e) =>
    withRoom(c, e.room, (room) => {
      const entry = { participant: e.participant, raised_at_ms: e.at_ms };
      const at = insertionIndex(room.queue, entry, room.rules.policy, spokenMs(c, e));
      return { ...room, queue: [...room.queue.slice(0, at), entry, ...room.queue.slice(at)] };
    }),
  hand_lowered: (c, e) =>
    withRoom(c, e.room, (room) => ({ ...room, queue: withoutEntry(room.queue, e.participant) })),
  queue_reordered: (c, e) =>
    withRoom(c, e.room, (room) => {
      const byId = new Map(room.queue.map((entry) => [entry.participant, entry]));
      return { ...room, queue: e.order.map((/** @type {string} */ id) => byId.get(id)) };
    }),
  reply_requested: (c, e) =>
    withRoom(c, e.room, (room) => ({
      ...room,
      replies: [...room.replies, { participant: e.participant, raised_at_ms: e.at_ms }],
    })),
  reply_withdrawn: (c, e) =>
    withRoom(c, e.room, (room) => ({
      ...room,
      replies: withoutEntry(room.replies, e.participant),
    })),
  floor_granted: (c, e) =>
    withRoom(c, e.room, (room) => {
      const reply = e.kind === "reply";
      const waited = (reply ? room.replies : room.queue).find((x) => x.participant === e.speaker);
      const before = statsOf(room, e.speaker);
      const longest = waited
        ? Math.max(before.longest_wait_ms, e.at_ms - waited.raised_at_ms)
        : before.longest_wait_ms;
      return {
        ...room,
        queue: reply ? room.queue : withoutEntry(room.queue, e.speaker),
        // Replies answer the turn that just ended; a new turn starts a new exchange.
        replies: reply ? withoutEntry(room.replies, e.speaker) : [],
        floor: {
          turn_id: e.turn_id,
          speaker: e.speaker,
          kind: e.kind,
          started_at_ms: e.at_ms,
          deadline_ms: e.deadline_ms,
          warning_at_ms: e.warning_at_ms,
          paused_ms: 0,
          nodes: [],
        },
        stats: {
          ...room.stats,
          [e.speaker]: { ...before, turns: before.turns + 1, longest_wait_ms: longest },
        },
      };
    }),
  turn_ended: (c, e) =>
    withRoom(c, e.room, (room) => {
      const before = statsOf(room, e.speaker);
      return {
        ...room,
        floor: null,
        stats: {
          ...room.stats,
          [e.speaker]: { ...before, spoken_ms: before.spoken_ms + e.duration_ms },
        },
      };
    }),
  turn_extended: (c, e) =>
    withRoom(c, e.room, (room) =>
      room.floor?.turn_id === e.turn_id
        ? {
            ...room,
            floor: { ...room.floor, deadline_ms: e.deadline_ms, warning_at_ms: e.warning_at_ms },
          }
        : room,
    ),
  room_rules_changed: (c, e) =>
    withRoom(c, e.room, (room) => {
      const switched = e.policy === "equity" && room.rules.policy !== "equity";
      const rules = {
        turn_limit_ms: e.turn_limit_ms,
        warning_ms: e.warning_ms,
        reply_limit_ms: e.reply_limit_ms,
        replies_per_turn: e.replies_per_turn,
        policy: e.policy,
        auto: e.auto,
        open_floor: e.open_floor,
      };
      // Switching to equity re-sorts the queue once; after that, only new hands are placed.
      const queue = switched ? equityOrder(room.queue, spokenMs(c, e)) : room.queue;
      return { ...room, rules, queue };
    }),
  statement_made: (c, e) =>
    withRoom(c, e.room, (room) => ({
      ...room,
      statements: [
        ...room.statements,
        {
          statement_id: e.statement_id,
          turn_id: e.turn_id,
          speaker: e.actor,
          kind: e.kind,
          text: e.text,
          at_ms: e.at_ms,
        },
      ],
    })),
};

// --- Moderation (facilitation/moderation.py) -------------------------------------------------

/** @type {Record<string, (client: ClientState, e: Payload) => ClientState>} */
const MODERATION = {
  participant_muted: (c, e) =>
    withRoom(c, e.room, (room) => {
      const muted = addId(room.muted, e.participant);
      // Keyed in the order of `muted`, as the view writes it.
      const reasons = { ...room.mute_reasons, [e.participant]: e.reason };
      return { ...room, muted,
               mute_reasons: Object.fromEntries(muted.map((id) => [id, reasons[id] ?? ""])) };
    }),
  participant_unmuted: (c, e) =>
    withRoom(c, e.room, (room) => {
      const { [e.participant]: _gone, ...mute_reasons } = room.mute_reasons;
      return { ...room, muted: dropId(room.muted, e.participant), mute_reasons };
    }),
  participant_removed: (c, e) => {
    // Removed jurors sit nowhere until the lead moves them somewhere.
    const unseated = withRoom(c, e.room, (room) => ({
      ...room,
      jurors: dropId(room.jurors, e.participant),
    }));
    return unseated;
  },
  room_locked: (c, e) => withRoom(c, e.room, (room) => ({ ...room, locked: true })),
  room_unlocked: (c, e) => withRoom(c, e.room, (room) => ({ ...room, locked: false })),
  room_paused: (c, e) => withRoom(c, e.room, (room) => ({ ...room, paused_at_ms: e.at_ms })),
  room_resumed: (c, e) =>
    withRoom(c, e.room, (room) => {
      // The clock stopped during the pause: every running deadline moves on by its length.
      const shift = e.paused_ms;
      const floor = room.floor && {
        ...room.floor,
        deadline_ms: room.floor.deadline_ms + shift,
        warning_at_ms: room.floor.warning_at_ms + shift,
        paused_ms: room.floor.paused_ms + shift,
      };
      const running = room.agenda.find((item) => item.status === "running");
      const moved =
        running && running.deadline_ms !== null
          ? withItem(room, running.item_id, (item) => ({
              ...item,
              deadline_ms: /** @type {number} */ (item.deadline_ms) + shift,
            }))
          : room;
      return { ...moved, paused_at_ms: null, floor };
    }),
};

// --- Voice (facilitation/voice.py) ------------------------------------------------------------

/** @type {Record<string, (client: ClientState, e: Payload) => ClientState>} */
const VOICE = {
  // Voiced time adds up beside floor time: the two are never mixed.
  voice_recorded: (c, e) =>
    withRoom(c, e.room, (room) => {
      const stats = { ...room.stats };
      for (const [participant, ms] of Object.entries(e.voiced_ms)) {
        const before = statsOf(room, participant);
        stats[participant] = { ...before, voiced_ms: before.voiced_ms + ms };
      }
      return { ...room, stats };
    }),
};

// --- The agenda (facilitation/agenda.py) ---------------------------------------------------

/** @type {Record<string, (client: ClientState, e: Payload) => ClientState>} */
const AGENDA = {
  agenda_item_added: (c, e) =>
    withRoom(c, e.room, (room) => ({
      ...room,
      agenda: [
        ...room.agenda,
        {
          item_id: e.item_id,
          title: e.title,
          duration_ms: e.duration_ms,
          question_id: e.question_id,
          status: "pending",
          deadline_ms: null,
        },
      ],
    })),
  agenda_item_started: (c, e) =>
    withRoom(c, e.room, (room) =>
      withItem(room, e.item_id, (item) => ({
        ...item,
        status: "running",
        deadline_ms: e.deadline_ms,
      })),
    ),
  agenda_item_extended: (c, e) =>
    withRoom(c, e.room, (room) =>
      withItem(room, e.item_id, (item) => ({ ...item, deadline_ms: e.deadline_ms })),
    ),
  agenda_item_ended: (c, e) =>
    withRoom(c, e.room, (room) =>
      withItem(room, e.item_id, (item) => ({ ...item, status: "done" })),
    ),
};

// --- Argument threads (facilitation/arguments.py) -------------------------------------------

/**
 * @param {string} kind
 * @param {(e: Payload) => string | null} parentOf
 * @returns {(client: ClientState, e: Payload) => ClientState}
 */
const posted = (kind, parentOf) => (c, e) =>
  withRoom(c, e.room, (room) => ({
    ...room,
    nodes: [
      ...room.nodes,
      {
        node_id: e.node_id,
        kind,
        parent: parentOf(e),
        stance: e.stance ?? null,
        author: e.actor,
        text: e.text,
        posted_at_ms: e.at_ms,
        hidden: false,
        moderation: [],
        endorsers: [],
        merged_into: null,
        turns: [],
        origin: e.origin ?? null,
      },
    ],
  }));

/** @type {Record<string, (client: ClientState, e: Payload) => ClientState>} */
const ARGUMENTS = {
  question_posed: posted("question", () => null),
  position_posted: posted("position", (e) => e.question_id),
  argument_posted: posted("argument", (e) => e.position_id),
  reply_posted: posted("reply", (e) => e.parent_id),
  endorsement_added: (c, e) =>
    withRoom(c, e.room, (room) =>
      withNode(room, e.node_id, (node) => ({ ...node, endorsers: addId(node.endorsers, e.actor) })),
    ),
  endorsement_withdrawn: (c, e) =>
    withRoom(c, e.room, (room) =>
      withNode(room, e.node_id, (node) => ({
        ...node,
        endorsers: dropId(node.endorsers, e.actor),
      })),
    ),
  post_hidden: (c, e) =>
    withRoom(c, e.room, (room) =>
      withNode(room, e.node_id, (node) => ({
        ...node,
        hidden: true,
        // Hidden text stays on the record; only moderators are shown it live.
        text: c.audience === "mod" ? node.text : null,
        moderation: [...node.moderation, { action: "hidden", actor: e.actor, reason: e.reason }],
      })),
    ),
  post_unhidden: (c, e) =>
    withRoom(c, e.room, (room) =>
      withNode(room, e.node_id, (node) => ({
        ...node,
        hidden: false,
        // The server sends the text back with the unhiding.
        text: e.text ?? node.text,
        moderation: [...node.moderation, { action: "unhidden", actor: e.actor, reason: e.reason }],
      })),
    ),
  nodes_merged: (c, e) =>
    withRoom(c, e.room, (room) => ({
      ...room,
      // Duplicates merged into this one follow it, so no chain of merges ever forms.
      nodes: updateWhere(
        room.nodes,
        (n) => n.node_id === e.duplicate_id || n.merged_into === e.duplicate_id,
        (n) => ({ ...n, merged_into: e.into_id }),
      ),
    })),
  turn_linked: (c, e) =>
    withRoom(c, e.room, (room) => {
      // Only the turn on the floor can be linked, and it is the only turn a view shows.
      const floor =
        room.floor?.turn_id === e.turn_id
          ? { ...room.floor, nodes: [...room.floor.nodes, e.node_id] }
          : room.floor;
      const linked = withNode(room, e.node_id, (n) => ({ ...n, turns: [...n.turns, e.turn_id] }));
      return { ...linked, floor };
    }),
};

// --- Polls (facilitation/polls.py) -------------------------------------------------------------

/** Votes per option, as `polls.totals` counts them. */
/** @param {PollView} poll @param {Record<string, number[]>} votes */
function totalsOf(poll, votes) {
  const counts = poll.options.map(() => 0);
  for (const choices of Object.values(votes)) for (const choice of choices) counts[choice] += 1;
  return counts;
}

/** @type {Record<string, (client: ClientState, e: Payload) => ClientState>} */
const POLLS = {
  poll_opened: (c, e) =>
    withRoom(c, e.room, (room) => ({
      ...room,
      polls: [
        ...room.polls,
        {
          poll_id: e.poll_id,
          question: e.question,
          kind: e.kind,
          options: e.options,
          secret: e.secret,
          open: true,
          voters: 0,
          totals: e.options.map(() => 0),
          votes: {},
        },
      ],
    })),
  vote_cast: (c, e) =>
    withRoom(c, e.room, (room) =>
      withPoll(room, e.poll_id, (poll) => {
        if (poll.secret || e.voters !== undefined) {
          // A secret ballot arrives without voter or choices: only the count of ballots.
          // Its totals come with poll_closed.
          return { ...poll, voters: e.voters };
        }
        // A later vote replaces the juror's earlier one.
        const votes = { ...poll.votes, [e.actor]: e.choices };
        return { ...poll, votes, voters: Object.keys(votes).length, totals: totalsOf(poll, votes) };
      }),
    ),
  poll_closed: (c, e) =>
    withRoom(c, e.room, (room) =>
      withPoll(room, e.poll_id, (poll) => ({
        ...poll,
        open: false,
        voters: e.voters,
        totals: e.totals,
      })),
    ),
};

// --- The assembly (facilitation/assembly.py) -------------------------------------------------

/**
 * A room of a round as the audience's assembly view shows it: who goes where for moderators,
 * the room alone for everyone else (the events tell all, the view does not).
 * @param {Audience} audience
 * @returns {(room: RoundRoom) => RoundRoom | {room_id: string, name: string}}
 */
const roundRoom = (audience) => (room) =>
  audience === "mod"
    ? {
        room_id: room.room_id,
        name: room.name,
        jurors: [...room.jurors].sort(compareIds),
        facilitators: [...room.facilitators],
      }
    : { room_id: room.room_id, name: room.name };

/**
 * @param {ClientState} client
 * @param {(round: RoundView) => RoundView | null} change
 */
const withRound = (client, change) =>
  withAssembly(client, (a) => (a.round ? { ...a, round: change(a.round) } : a));

/** @param {ClientState} client @param {string} id */
const roleOf = (client, id) => client.people?.[id]?.role;

/**
 * Add one person to the directory, unless known (names never change).
 * @param {ClientState} client
 * @param {string} id
 * @param {Person} person
 */
const know = (client, id, person) =>
  client.people?.[id] ? client : { ...client, people: { ...client.people, [id]: person } };

/** @type {Record<string, (client: ClientState, e: Payload) => ClientState>} */
const ASSEMBLY = {
  assembly_created: (c, e) => {
    const named = withRoom(c, PLENARY_ROOM, (room) => ({ ...room, name: "Plenary" }));
    return withAssembly(named, (a) => ({
      ...a,
      title: e.title,
      public: e.public,
      pseudonymous: e.pseudonymous,
    }));
  },
  participant_added: (c, e) => {
    // Observers are nobody's business: no view lists them.
    if (e.role === "observer") return c;
    const person = {
      name: e.display_name,
      role: e.role,
      // Balancing attributes are for moderators only (members receive them empty).
      ...(c.audience === "mod" ? { attributes: e.attributes } : {}),
    };
    const counted = withAssembly(c, (a) => ({
      ...a,
      counts: { ...a.counts, [e.role]: (a.counts[e.role] ?? 0) + 1 },
    }));
    const added = know(counted, e.participant, person);
    return withRoom(added, PLENARY_ROOM, (room) => {
      if (e.role === "juror") return { ...room, jurors: addId(room.jurors, e.participant) };
      if (e.role === "facilitator") {
        return { ...room, facilitators: addId(room.facilitators, e.participant) };
      }
      return room;
    });
  },
  round_proposed: (c, e) =>
    withAssembly(c, (a) => ({
      ...a,
      round: { id: e.round_id, started: false, deadline_ms: null, recall_at_ms: null,
               rooms: e.rooms.map(roundRoom(c.audience)) },
    })),
  allocation_adjusted: (c, e) =>
    c.audience !== "mod" ? c : withRound(c, (round) => {
      // A juror changes rooms; a facilitator leaves every room they ran for the target alone.
      const wasJuror = round.rooms.some((room) => room.jurors.includes(e.participant));
      const rooms = round.rooms.map((room) => {
        const jurors = room.jurors.filter((p) => p !== e.participant);
        const facilitators = room.facilitators.filter((p) => p !== e.participant);
        if (room.room_id === e.to_room) (wasJuror ? jurors : facilitators).push(e.participant);
        return { ...room, jurors: jurors.sort(compareIds), facilitators };
      });
      return { ...round, rooms };
    }),
  round_started: (c, e) => {
    const rooms = e.rooms.map(roundRoom(c.audience));
    const started = withAssembly(c, (a) => ({
      ...a,
      round: { id: e.round_id, started: true, deadline_ms: e.deadline_ms, recall_at_ms: null, rooms },
    }));
    // The new rooms' views come as snapshots (`moved`) to whoever follows them.
    const leaving = e.rooms.flatMap((/** @type {RoundRoom} */ r) => [...r.jurors, ...r.facilitators]);
    return withRoom(started, PLENARY_ROOM, (room) => ({
      ...room,
      jurors: room.jurors.filter((p) => !leaving.includes(p)),
      facilitators: room.facilitators.filter((p) => !leaving.includes(p)),
    }));
  },
  participant_moved: (c, e) => {
    // The server names who moved (`role`, `display_name`): the client may never have met them.
    const role = e.role ?? roleOf(c, e.participant);
    const key = role === "juror" ? "jurors" : "facilitators";
    const person = {
      name: e.display_name,
      role,
      ...(c.audience === "mod" && e.attributes ? { attributes: e.attributes } : {}),
    };
    let next = e.display_name && role ? know(c, e.participant, person) : c;
    if (e.from_room) {
      next = withRoom(next, e.from_room, (room) => ({
        ...room,
        [key]: dropId(room[key], e.participant),
      }));
    }
    return withRoom(next, e.to_room, (room) => ({
      ...room,
      [key]: addId(room[key], e.participant),
    }));
  },
  round_timer_set: (c, e) => withRound(c, (round) => ({ ...round, deadline_ms: e.deadline_ms })),
  round_timer_ended: (c, e) => withRound(c, (round) => ({ ...round, deadline_ms: null })),
  recall_scheduled: (c, e) => withRound(c, (round) => ({ ...round, recall_at_ms: e.recall_at_ms })),
  recall_cancelled: (c, e) => withRound(c, (round) => ({ ...round, recall_at_ms: null })),
  announcement_broadcast: (c, e) =>
    withAssembly(c, (a) => ({
      ...a,
      announcements: [...a.announcements, { at_ms: e.at_ms, text: e.text }],
    })),
  round_closed: (c, e) => closeRound(c, e),
  fairness_alarms_set: (c, e) =>
    withAssembly(c, (a) => ({
      ...a,
      alarms: {
        unspoken_after_ms: e.unspoken_after_ms,
        max_gini: e.max_gini,
        max_wait_ms: e.max_wait_ms,
        min_stratum_ratio: e.min_stratum_ratio,
      },
    })),
  // Only the room's moderators are sent a note's words; everyone else keeps no notes.
  facilitator_note_sent: (c, e) =>
    e.text === null
      ? c
      : withRoom(c, e.room, (room) => ({
          ...room,
          notes: [...room.notes, { at_ms: e.at_ms, author: e.actor, text: e.text }],
        })),
};

/**
 * Everyone seated in the round's rooms goes back to the plenary; the rooms close.
 * @param {ClientState} client
 * @param {Payload} e
 */
function closeRound(client, e) {
  const round = client.assembly?.round;
  const closed = withAssembly(client, (a) => ({ ...a, round: null }));
  if (!round || round.id !== e.round_id || !round.started) return closed;
  // The round's announcements end with it, as on the server.
  const roomIds = round.rooms.map((room) => room.room_id);
  const returned = e.returned ?? guessReturned(client, roomIds);
  let next = withAssembly(closed, (a) => ({ ...a, announcements: [] }));
  for (const id of roomIds) {
    next = withRoom(next, id, (room) => ({ ...room, closed: true, queue: [], replies: [] }));
  }
  // Who comes back may be unknown here (from rooms not followed): `missingPeople` tells.
  return withRoom(next, PLENARY_ROOM, (room) => ({
    ...room,
    jurors: addIds(room.jurors, returned.jurors),
    facilitators: addIds(room.facilitators, returned.facilitators),
  }));
}

/**
 * Without the server's list: who sits in the round's rooms the client holds.
 * @param {ClientState} client
 * @param {string[]} roomIds
 */
function guessReturned(client, roomIds) {
  const jurors = new Set();
  const facilitators = new Set();
  for (const id of roomIds) {
    for (const p of client.rooms[id]?.jurors ?? []) jurors.add(p);
    for (const p of client.rooms[id]?.facilitators ?? []) facilitators.add(p);
  }
  return { jurors: [...jurors], facilitators: [...facilitators] };
}

// --- Reporting back to the plenary (facilitation/synthesis.py) ------------------------------

/**
 * @param {ClientState} client
 * @param {(s: SynthesisView) => SynthesisView} change
 */
const withSynthesis = (client, change) =>
  withAssembly(client, (a) => ({ ...a, synthesis: change(a.synthesis) }));

/**
 * The entry that `entryId` stands under on the map (itself when it stands alone).
 * @param {SynthesisView} synthesis
 * @param {string} entryId
 */
export function canonicalEntry(synthesis, entryId) {
  const entry = synthesis.entries.find((e) => e.entry_id === entryId);
  return entry?.merged_into ?? entryId;
}

/**
 * @param {SynthesisView} s
 * @param {string} proposalId
 * @param {"confirmed" | "rejected"} status
 * @param {string} actor
 */
const decided = (s, proposalId, status, actor) =>
  updateWhere(
    s.proposals,
    (p) => p.proposal_id === proposalId,
    (p) => ({ ...p, status, decided_by: actor }),
  );

/** @type {Record<string, (client: ClientState, e: Payload) => ClientState>} */
const SYNTHESIS = {
  carry_proposed: (c, e) =>
    withRoom(c, e.room, (room) => ({
      ...room,
      carry: {
        positions: e.positions,
        arguments: e.arguments,
        proposed_by: e.actor,
        proposed_at_ms: e.at_ms,
        objections: [],
      },
    })),
  carry_objected: (c, e) =>
    withRoom(c, e.room, (room) =>
      room.carry
        ? {
            ...room,
            carry: {
              ...room.carry,
              objections: [
                ...room.carry.objections,
                { participant: e.actor, reason: e.reason, at_ms: e.at_ms },
              ],
            },
          }
        : room,
    ),
  positions_carried: (c, e) =>
    withSynthesis(c, (s) => {
      let entries = s.entries;
      for (const position of e.positions) {
        // A position taken from the map comes back under the entry it was taken from.
        const known = position.origin && entries.some((x) => x.entry_id === position.origin);
        const under = known ? canonicalEntry({ ...s, entries }, position.origin) : null;
        entries = [
          ...entries,
          {
            entry_id: `${e.from_room}/${position.node_id}`,
            round_id: e.round_id,
            room: e.from_room,
            room_name: e.room_name,
            node_id: position.node_id,
            text: position.text,
            endorsements: position.endorsements,
            arguments: position.arguments,
            marked_by: e.marked_by,
            merged_into: under,
          },
        ];
      }
      return { ...s, entries, objections: { ...s.objections, [e.from_room]: e.objections } };
    }),
  merge_proposed: (c, e) =>
    withSynthesis(c, (s) => ({
      ...s,
      proposals: [
        ...s.proposals,
        {
          proposal_id: e.proposal_id,
          round_id: e.round_id,
          first: e.first,
          second: e.second,
          similarity: e.similarity,
          shared: e.shared,
          status: "open",
          decided_by: null,
        },
      ],
    })),
  merge_confirmed: (c, e) =>
    withSynthesis(c, (s) => {
      const proposal = s.proposals.find((p) => p.proposal_id === e.proposal_id);
      const proposals = decided(s, e.proposal_id, "confirmed", e.actor);
      if (!proposal) return { ...s, proposals };
      const into = canonicalEntry(s, proposal.first);
      const moved = canonicalEntry(s, proposal.second);
      if (into === moved) return { ...s, proposals };
      // The second's whole group follows it under the first's, as in the core.
      const entries = updateWhere(
        s.entries,
        (x) => x.entry_id === moved || x.merged_into === moved,
        (x) => ({ ...x, merged_into: into }),
      );
      return { ...s, entries, proposals };
    }),
  merge_rejected: (c, e) =>
    withSynthesis(c, (s) => ({ ...s, proposals: decided(s, e.proposal_id, "rejected", e.actor) })),
};

/** @type {Record<string, (client: ClientState, e: Payload) => ClientState>} */
const EFFECTS = {
  ...TURNS,
  ...MODERATION,
  ...VOICE,
  ...AGENDA,
  ...ARGUMENTS,
  ...POLLS,
  ...ASSEMBLY,
  ...SYNTHESIS,
};
