// A room's fairness figures, worked out in the browser as `facilitation/metrics.py` works them
// out on the server: the room view carries committed figures only (`stats`), and the live turn
// and the hands still up are added here, at the time the page shows. Floor time (`spoken_ms`)
// and voiced time (`voiced_ms`, what the media server heard) are kept apart.

import { compareIds } from "./state.js";

/**
 * @typedef {{participant: string, spoken_ms: number, turns: number,
 *   longest_wait_ms: number, voiced_ms: number}} SpeakerFigures
 * @typedef {{room: string, speakers: SpeakerFigures[], gini: number, voiced_gini: number,
 *   share_spoken: number, not_spoken: string[]}} RoomFairness
 */

/**
 * The Gini coefficient of non-negative values (0 for none, or all zero): 0 when every juror
 * spoke equally long, towards 1 when one juror did all the talking.
 * @param {number[]} values
 * @returns {number}
 */
export function gini(values) {
  const total = values.reduce((sum, value) => sum + value, 0);
  if (values.length === 0 || total === 0) return 0;
  const ordered = [...values].sort((a, b) => a - b);
  const count = ordered.length;
  const weighted = ordered.reduce((sum, value, index) => sum + (index + 1) * value, 0);
  // The same operations in the same order as metrics.gini, so the floats agree.
  return (2 * weighted) / (count * total) - (count + 1) / count;
}

/**
 * Speaking time of a turn if it ended at `nowMs`: a pause stops the clock, the deadline caps it
 * (`turns.spoken_duration_ms`).
 * @param {import("./state.js").RoomView} room
 * @param {import("./state.js").Floor} turn
 * @param {number} nowMs
 */
export function spokenDurationMs(room, turn, nowMs) {
  const endMs = room.paused_at_ms ?? nowMs;
  return Math.max(0, Math.min(endMs, turn.deadline_ms) - turn.started_at_ms - turn.paused_ms);
}

/**
 * Figures over the room's jurors: everyone seated now, and any juror who spoke here before.
 * @param {import("./state.js").ClientState} client
 * @param {string} roomId
 * @param {number} nowMs the server's time, as the page best knows it
 * @returns {RoomFairness}
 */
export function roomFairness(client, roomId, nowMs) {
  const room = client.rooms[roomId];
  if (!room) throw new Error(`roomFairness: no view of room ${roomId}`);
  const people = client.people ?? {};
  // Only jurors ever hold the floor; one the client does not know is counted as one.
  const spokeHere = Object.keys(room.stats).filter((p) => (people[p]?.role ?? "juror") === "juror");
  const jurors = [...new Set([...room.jurors, ...spokeHere])].sort(compareIds);
  const waitingSince = new Map(room.queue.map((e) => [e.participant, e.raised_at_ms]));
  const speakers = jurors.map((juror) => {
    const stats = room.stats[juror];
    const live = room.floor?.speaker === juror ? spokenDurationMs(room, room.floor, nowMs) : 0;
    const since = waitingSince.get(juror);
    const waiting = since === undefined ? 0 : nowMs - since;
    return {
      participant: juror,
      spoken_ms: (stats?.spoken_ms ?? 0) + live,
      turns: stats?.turns ?? 0,
      longest_wait_ms: Math.max(stats?.longest_wait_ms ?? 0, waiting),
      voiced_ms: stats?.voiced_ms ?? 0,
    };
  });
  // Nobody who held the floor or was heard at all.
  const notSpoken = speakers
    .filter((s) => s.turns === 0 && s.voiced_ms === 0)
    .map((s) => s.participant);
  return {
    room: roomId,
    speakers,
    gini: gini(speakers.map((s) => s.spoken_ms)),
    voiced_gini: gini(speakers.map((s) => s.voiced_ms)),
    share_spoken: speakers.length ? (speakers.length - notSpoken.length) / speakers.length : 0,
    not_spoken: notSpoken,
  };
}

/**
 * @typedef {{attribute: string, value: string, seats: number, seat_share: number,
 *   spoken_ms: number, speaking_share: number, ratio: number}} StratumShare
 */

// An inequality figure means something once a few people have spoken for a while: before,
// one person's six seconds read as "0.88, very unequal".
const MEANINGFUL_SPEAKERS = 3;
const MEANINGFUL_TALK_MS = 2 * 60_000;

/**
 * Whether a room's inequality figures (Gini, strata) say anything yet: three people have
 * spoken, or two minutes of floor time have passed.
 * @param {RoomFairness} figures
 */
export function figuresMeanSomething(figures) {
  const spoke = figures.speakers.length - figures.not_spoken.length;
  const talked = figures.speakers.reduce((sum, s) => sum + s.spoken_ms, 0);
  return spoke >= MEANINGFUL_SPEAKERS || talked >= MEANINGFUL_TALK_MS;
}

/**
 * Every stratum of the jurors the figures cover (`metrics.strata`): its share of the seats
 * against its share of the floor time. Attributes come from the people directory (rooms'
 * `people`), where only moderators are sent them.
 * @param {import("./state.js").ClientState} client
 * @param {RoomFairness} figures
 * @returns {StratumShare[]}
 */
export function strata(client, figures) {
  const people = client.people ?? {};
  const attributesOf = (/** @type {string} */ id) => people[id]?.attributes ?? {};
  const names = [...new Set(figures.speakers.flatMap((s) => Object.keys(attributesOf(s.participant))))].sort(compareIds);
  const found = [];
  for (const attribute of names) {
    /** @type {Map<string, {seats: number, spoken: number}>} */
    const groups = new Map();
    for (const speaker of figures.speakers) {
      const value = attributesOf(speaker.participant)[attribute];
      if (value === undefined) continue;
      const group = groups.get(value) ?? { seats: 0, spoken: 0 };
      groups.set(value, { seats: group.seats + 1, spoken: group.spoken + speaker.spoken_ms });
    }
    const seats = [...groups.values()].reduce((sum, g) => sum + g.seats, 0);
    const spoken = [...groups.values()].reduce((sum, g) => sum + g.spoken, 0);
    for (const value of [...groups.keys()].sort(compareIds)) {
      const group = /** @type {{seats: number, spoken: number}} */ (groups.get(value));
      const seatShare = group.seats / seats;
      const speakingShare = spoken ? group.spoken / spoken : 0;
      found.push({ attribute, value, seats: group.seats, seat_share: seatShare,
        spoken_ms: group.spoken, speaking_share: speakingShare,
        ratio: seatShare ? speakingShare / seatShare : 1 });
    }
  }
  return found;
}

/**
 * The stratum furthest below its fair share of floor time (`metrics.quietest_stratum`); none
 * before anyone spoke.
 * @param {StratumShare[]} shares
 * @returns {StratumShare | null}
 */
export function quietestStratum(shares) {
  if (shares.length === 0 || shares.every((s) => s.spoken_ms === 0)) return null;
  return shares.reduce((best, s) => (s.ratio < best.ratio ? s : best));
}
