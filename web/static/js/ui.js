// Shared pieces of the pages: the html tag, names, the clock, messages for error codes.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { t } from "./i18n.js";

/** Marks a string for translation where it is defined; `t` translates it where it is shown. */
export const N_ = (message) => message;

// htm renders text as text nodes: nothing a participant writes is ever parsed as HTML.
export const html = htm.bind(h);

/**
 * A room's name in the viewer's language: the plenary, or a breakout room by its number
 * (the core names them in English for the record: "Room 3" has the id "r12-3").
 */
export function roomLabel(room) {
  const id = room.id ?? room.room_id;
  if (id === "plenary") return t("Plenary");
  const number = /-(\d+)$/.exec(id)?.[1];
  return number ? t("Room {number}", { number }) : room.name;
}

/** The display name of a participant (or pseudonym, for observers). */
export function nameOf(client, id) {
  return client.people?.[id]?.name ?? id;
}

/** The server's clock, as this browser best knows it, ticking every `everyMs`. */
export function useNow(serverOffsetMs, everyMs = 250) {
  const [now, setNow] = useState(() => Date.now() + serverOffsetMs);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now() + serverOffsetMs), everyMs);
    return () => clearInterval(timer);
  }, [serverOffsetMs, everyMs]);
  return now;
}

/** Time left before a deadline, frozen while the room is paused. */
/** Role names, as shown beside a person's name. */
export const ROLE_NAMES = {
  juror: N_("juror"),
  facilitator: N_("facilitator"),
  lead: N_("lead facilitator"),
  observer: N_("observer"),
};

export function timeLeft(room, deadlineMs, now) {
  const at = room.paused_at_ms ?? now;
  return deadlineMs - at;
}

const ERRORS = {
  forbidden: N_("You cannot do that in your role."),
  not_in_room: N_("You are not in this room."),
  muted: N_("You are muted in this room."),
  room_locked: N_("The room is locked for now."),
  room_paused: N_("The room is paused."),
  already_in_queue: N_("Your hand is already up."),
  not_in_queue: N_("Your hand is not up."),
  already_speaking: N_("You have the floor already."),
  queue_empty: N_("Nobody is waiting."),
  floor_taken: N_("Someone has the floor."),
  no_speaker: N_("Nobody has the floor."),
  not_your_turn: N_("It is not your turn."),
  reply_lane_full: N_("The replies to this turn are full."),
  reply_not_allowed: N_("You cannot reply to this turn."),
  already_replying: N_("You already asked to reply."),
  text_empty: N_("Write something first."),
  text_too_long: N_("That is too long: 2,000 characters at most."),
  reason_required: N_("Give a reason: it stays on the record."),
  already_endorsed: N_("You already endorse this."),
  own_post: N_("You cannot endorse your own post."),
  poll_closed: N_("This poll is closed."),
  invalid_choice: N_("Choose an option."),
  nothing_to_carry: N_("Choose at least one position to carry."),
  invalid_carry: N_("Carry positions, and arguments under a carried position."),
  no_carry_proposed: N_("Nothing has been proposed to carry yet."),
  already_objected: N_("You have already objected to this proposal."),
  proposal_decided: N_("This merge has been decided already."),
  rate_limited: N_("Slow down a little and try again."),
  not_connected: N_("Not connected: wait a moment and try again."),
  unavailable: N_("The server is busy: try again."),
  // Why a link was refused at connect (the same words as the join page's).
  expired_token: N_("This invite has expired. Ask the organisers for a new link."),
  revoked_token: N_("This invite was withdrawn by the organisers. Ask them for a new link if you think this is a mistake."),
  invalid_token: N_("Check that you copied the whole link from your invitation."),
  assembly_not_found: N_("There is no public assembly here."),
};

/** A sentence for an error code, in the viewer's language. */
export function errorText(code) {
  return ERRORS[code] ? t(ERRORS[code]) : t("That did not work ({code}).", { code });
}

/** A button that sends a command and reports its refusal in the page's status line. */
export function Action({ label, send, command, fields, className = "", disabled = false, onDone }) {
  const [busy, setBusy] = useState(false);
  const click = async () => {
    setBusy(true);
    const ack = await send(command, fields ?? {});
    setBusy(false);
    if (ack.ok && onDone) onDone(ack);
  };
  return html`<button type="button" class=${className} disabled=${disabled || busy}
    onClick=${click}>${label}</button>`;
}
