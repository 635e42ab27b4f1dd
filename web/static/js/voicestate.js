// What a person's voice state means, worked out without a browser: the state line's reason,
// whether the mute switch may unmute, and a microphone level. Node runs it as it is
// (tests/web/voice.test.mjs); voice.js and voicebar.js use it in the page.

/**
 * The server's `voice` event (docs in /docs/protocol.md, "voice").
 * @typedef {"floor" | "open_floor" | "moderator" | "self" | "no_floor" | "muted" | "paused" |
 *   "off"} Why
 * @typedef {{available: boolean, joined: boolean, room: string | null, muted: boolean,
 *   why: Why}} ServerVoice
 * @typedef {{why: Why, joined: boolean, live: boolean, waiting: boolean}} VoiceLine
 */

// Reasons that mean the media server lets the person be heard (unless they muted themselves).
const HEARD = new Set(["floor", "open_floor", "moderator"]);

/**
 * Why a person is, or would be, heard or not, from the room as the page sees it. Used when the
 * person has not joined the voice (or the server has none), and to know whether a person who
 * muted themselves may come back.
 * @param {import("./state.js").RoomView} room
 * @param {string | null} me
 * @param {string} role
 * @returns {Why}
 */
export function roomWhy(room, me, role) {
  if (role === "facilitator" || role === "lead") return "moderator";
  if (room.paused_at_ms !== null) return "paused";
  if (me !== null && room.muted.includes(me)) return "muted";
  if (me !== null && room.floor?.speaker === me) return "floor";
  if (room.rules.open_floor) return "open_floor";
  return "no_floor";
}

/**
 * The person's state line: the server's word once they joined the voice of this room, the
 * room's rules otherwise.
 * @param {{available: boolean, server: ServerVoice | null, room: import("./state.js").RoomView,
 *   me: string | null, role: string}} input
 * @returns {VoiceLine}
 */
export function voiceLine({ available, server, room, me, role }) {
  // A hand already up changes what to tell a person without the floor: wait, not "raise".
  const waiting = [...room.queue, ...room.replies].some((entry) => entry.participant === me);
  if (available && server?.joined && server.room === room.id) {
    return { why: server.why, joined: true, live: !server.muted, waiting };
  }
  return { why: roomWhy(room, me, role), joined: false, live: false, waiting };
}

/**
 * Whether the mute switch may ask to unmute: only when the person could be heard. Muting is
 * never refused, so only this direction is guarded (the server guards it too).
 * @param {VoiceLine} line
 * @param {Why} roomReason the room's reason (`roomWhy`), for a person who muted themselves
 */
export function mayUnmuteSelf(line, roomReason) {
  if (!line.joined) return false;
  return HEARD.has(line.why === "self" ? roomReason : line.why);
}

/**
 * The loudness of a block of samples (-1..1) as 0..1 for a meter: the RMS, scaled so that
 * ordinary speech (RMS about 0.05 to 0.2) fills most of it.
 * @param {ArrayLike<number>} samples
 */
export function levelOf(samples) {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i += 1) sum += samples[i] * samples[i];
  const rms = Math.sqrt(sum / samples.length);
  return Math.min(1, rms * 5);
}

/** Error codes after which the page stops offering voice: the server has none. */
export const VOICE_OFF_CODES = new Set(["unknown_command", "voice_unavailable"]);

/**
 * Whether the server offers voice: it says so in the sync reply (`you.voice`), and has not
 * since refused a join as having no voice.
 * @param {{voice?: {available?: boolean}} | null} you
 * @param {ServerVoice | null} server
 * @param {boolean} refused
 */
export function voiceAvailable(you, server, refused) {
  if (refused || you?.voice?.available !== true) return false;
  return server?.available !== false;
}
