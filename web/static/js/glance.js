// A facilitator's first screen, in five short lines above every control: who speaks and for how
// long, who waits (in order, and how long), who has not spoken yet, what is on the agenda, and
// how long the round has left. Everything here is also further down; this is the summary.
import { formatDuration, t } from "./i18n.js";
import { html, nameOf, timeLeft } from "./ui.js";
import { roomFairness, spokenDurationMs } from "./fairness.js";

/** Time waited in words ("waiting 6 min"), so it does not read as a clock time. */
export function waitedText(ms) {
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  return minutes < 1 ? t("waiting less than a minute") : t("waiting {minutes} min", { minutes });
}

export function AtAGlance({ client, room, now }) {
  const names = (ids) => ids.map((id) => nameOf(client, id)).join(", ");
  const floor = room.floor;
  const waiting = [...room.replies, ...room.queue];
  // The one speaking now has spoken, though their first turn is not counted until it ends.
  const notSpoken = roomFairness(client, room.id, now).not_spoken
    .filter((id) => id !== floor?.speaker);
  const item = room.agenda.find((entry) => entry.status === "running");
  const round = client.assembly.round;
  const inRound = round?.started && round.rooms.some((r) => r.room_id === room.id);
  const roundEnd = inRound ? (round.recall_at_ms ?? round.deadline_ms) : null;
  return html`<section class="card glance" aria-labelledby=${`glance-${room.id}`}>
    <h3 id=${`glance-${room.id}`} class="visually-hidden">${t("At a glance")}</h3>
    <dl>
      <div><dt>${t("Speaking")}</dt><dd class="glance-floor">${floor
        ? t("{name} · {spoken} spoken · {left} left", {
            name: nameOf(client, floor.speaker),
            spoken: formatDuration(spokenDurationMs(room, floor, now)),
            left: formatDuration(timeLeft(room, floor.deadline_ms, now)),
          })
        : t("Nobody: the floor is free.")}</dd></div>
      <div><dt>${t("Waiting")}</dt><dd class="glance-waiting">${waiting.length === 0
        ? t("Nobody is waiting.")
        : html`<ol>${waiting.map((entry) => html`<li>${nameOf(client, entry.participant)}
            <span class="muted"> (${waitedText(now - entry.raised_at_ms)})</span></li>`)}</ol>`}</dd></div>
      <div><dt>${t("Not spoken yet")}</dt><dd class="glance-not-spoken">${notSpoken.length === 0
        ? t("Everyone here has spoken.") : names(notSpoken)}</dd></div>
      <div><dt>${t("On the agenda")}</dt><dd class="glance-agenda">${item
        ? (item.deadline_ms === null ? item.title
          : t("{title} · {left} left", { title: item.title,
              left: formatDuration(timeLeft(room, item.deadline_ms, now)) }))
        : t("No item running.")}</dd></div>
      ${inRound && html`<div><dt>${t("Round")}</dt><dd class="glance-round">${roundEnd === null
        ? t("no time set: the lead will call everyone back")
        : round.recall_at_ms !== null
          ? t("recall in {time}", { time: formatDuration(round.recall_at_ms - now) })
          : t("{time} left", { time: formatDuration(roundEnd - now) })}</dd></div>`}
    </dl></section>`;
}
