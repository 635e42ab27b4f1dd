// From the rooms back to the plenary: what a breakout room carries (proposed by its facilitator,
// open to its jurors' objections), the plenary's merged map, and the lead's merge proposals.
import { useState } from "preact/hooks";
import { t } from "./i18n.js";
import { Action, html, nameOf, roomLabel } from "./ui.js";
import { canonicalEntry } from "./state.js";

// The best arguments shown on each side of a merged position; the rest stay one click away.
const BEST_ARGUMENTS = 3;

const byEndorsements = (a, b) => b.endorsements - a.endorsements;

/**
 * The map as groups: each standing entry first, then the entries merged under it, in the order
 * they were carried (`facilitation.synthesis.map_groups`).
 */
export function mapGroups(synthesis) {
  const groups = new Map();
  for (const entry of synthesis.entries) {
    const key = canonicalEntry(synthesis, entry.entry_id);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(entry);
  }
  return [...groups.values()].map((group) =>
    [...group].sort((a, b) => Number(a.merged_into !== null) - Number(b.merged_into !== null)));
}

/** Round numbers as people count them (1, 2...), in the order the map received them. */
function roundNumbers(synthesis) {
  const order = [...new Set(synthesis.entries.map((entry) => entry.round_id))];
  return (roundId) => order.indexOf(roundId) + 1;
}

const roomOf = (entry) => roomLabel({ id: entry.room, name: entry.room_name });

// --- A breakout room: what it carries --------------------------------------------------------

export function CarryPanel({ room, client, you, send, moderator, juror, contributor }) {
  const carry = room.carry;
  const standing = (node) => !node.hidden && !node.merged_into;
  const positions = room.nodes.filter((n) => n.kind === "position" && standing(n));
  return html`<section class="card carry" aria-labelledby="carry-heading">
    <h3 id="carry-heading">${t("What this room carries to the plenary")}</h3>
    ${moderator && contributor && positions.length > 0
      && html`<${CarryForm} room=${room} positions=${positions} send=${send} />`}
    ${carry === null
      ? html`<p class="muted">${t("No proposal yet: if none is made, every position goes back with its most endorsed arguments.")}</p>`
      : html`<${CarryProposal} room=${room} client=${client} />`}
    ${carry !== null && carry.objections.length > 0 && html`<h4>${t("Objections")}</h4>
      <ul class="objections">${carry.objections.map((o) => html`<li>
        <span class="who">${nameOf(client, o.participant)}</span>: ${o.reason}</li>`)}</ul>`}
    ${juror && contributor && carry !== null
      && !carry.objections.some((o) => o.participant === you.participant)
      && html`<${ObjectForm} send=${send} />`}
  </section>`;
}

function CarryProposal({ room, client }) {
  const carry = room.carry;
  const node = (id) => room.nodes.find((n) => n.node_id === id);
  return html`<p class="muted">${t("Proposed by {name}", { name: nameOf(client, carry.proposed_by) })}</p>
    <ul class="carried">${carry.positions.map((id) => html`<li>
      <span class="node-text">${node(id)?.text ?? ""}</span>
      <ul>${carry.arguments.filter((a) => node(a)?.parent === id).map((a) => html`<li
        class=${`carried-argument side-${node(a).stance}`}>
        ${node(a).stance === "for" ? t("For") : t("Against")}: ${node(a).text}</li>`)}</ul>
    </li>`)}</ul>`;
}

function CarryForm({ room, positions, send }) {
  const initial = () => new Set(room.carry ? [...room.carry.positions, ...room.carry.arguments] : []);
  const [chosen, setChosen] = useState(initial);
  const toggle = (id) => {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id); else next.add(id);
    setChosen(next);
  };
  const argumentsOf = (id) => room.nodes
    .filter((n) => n.kind === "argument" && n.parent === id && !n.hidden && !n.merged_into)
    .map((n) => ({ ...n, endorsements: n.endorsers.length }))
    .sort(byEndorsements);
  const picked = positions.filter((p) => chosen.has(p.node_id)).map((p) => p.node_id);
  const pickedArguments = positions.flatMap((p) => argumentsOf(p.node_id))
    .filter((a) => chosen.has(a.node_id) && picked.includes(a.parent)).map((a) => a.node_id);
  const box = (node, label) => html`<label class="carry-choice">
    <input type="checkbox" checked=${chosen.has(node.node_id)}
      onChange=${() => toggle(node.node_id)} />
    ${label} <span class="endorsements muted">${t("Endorsements: {count}", { count: node.endorsers.length })}</span></label>`;
  return html`<div class="carry-form">
    <p class="muted">${t("Choose the positions and the strongest arguments the room carries back. The room's jurors see your proposal and can object before the recall.")}</p>
    <ul>${positions.map((p) => html`<li>${box(p, p.text)}
      <ul>${argumentsOf(p.node_id).map((a) => html`<li>${box(a,
        `${a.stance === "for" ? t("For") : t("Against")}: ${a.text}`)}</li>`)}</ul></li>`)}</ul>
    <${Action} className="primary" label=${t("Propose to carry these")} send=${send}
      command="propose_carry" disabled=${picked.length === 0}
      fields=${{ positions: picked, arguments: pickedArguments }} />
  </div>`;
}

function ObjectForm({ send }) {
  const [reason, setReason] = useState("");
  const submit = async (event) => {
    event.preventDefault();
    const ack = await send("object_to_carry", { reason });
    if (ack.ok) setReason("");
  };
  return html`<form class="row object-form" onSubmit=${submit}>
    <label for="carry-objection">${t("Why do you object? (kept on the record)")}</label>
    <input id="carry-objection" value=${reason} required maxlength="200"
      onInput=${(e) => setReason(e.target.value)} />
    <button type="submit">${t("I object to this proposal")}</button>
  </form>`;
}

// --- The plenary: the merged map -------------------------------------------------------------

export function PlenaryMap({ client }) {
  const synthesis = client.assembly?.synthesis;
  if (!synthesis || synthesis.entries.length === 0) return null;
  const roundOf = roundNumbers(synthesis);
  const objections = Object.entries(synthesis.objections).filter(([, list]) => list.length > 0);
  return html`<section class="card plenary-map" aria-labelledby="plenary-map-heading">
    <h3 id="plenary-map-heading">${t("The plenary's map")}</h3>
    <p class="muted">${t("What the rooms carried back, merged only where the lead facilitator confirmed it.")}</p>
    <ul class="map-groups">${mapGroups(synthesis).map((group) => html`<li>
      <${MapGroup} group=${group} roundOf=${roundOf} /></li>`)}</ul>
    ${objections.length > 0 && html`<h4>${t("Objections to what a room carried")}</h4>
      <ul class="objections">${objections.flatMap(([room, list]) => list.map((o) => html`<li>
        <span class="who">${roomLabel({ id: room, name: room })} · ${nameOf(client, o.participant)}</span>${": "}${o.reason}</li>`))}</ul>`}
  </section>`;
}

function MapGroup({ group, roundOf }) {
  const [head] = group;
  const raisedBy = group.map((entry) => t("{room}, round {round}",
    { room: roomOf(entry), round: roundOf(entry.round_id) }));
  const side = (stance) => group.flatMap((entry) => entry.arguments
    .filter((a) => a.stance === stance).map((a) => ({ ...a, room: roomOf(entry) })))
    .sort(byEndorsements);
  const endorsements = group.reduce((sum, entry) => sum + entry.endorsements, 0);
  // A side no room carried an argument for is left out rather than shown empty.
  const sides = ["for", "against"].map((stance) => [stance, side(stance)])
    .filter(([, all]) => all.length > 0);
  return html`<article class="map-group" data-entry=${head.entry_id}>
    <p class="position-text"><span class="node-text">${head.text}</span></p>
    <p class="raised-by small">${t("Raised by {rooms}", { rooms: raisedBy.join("; ") })}
      ${group.length === 1 && html` <span class="badge">${t("Raised by one room only")}</span>`}
      <span class="endorsements muted"> · ${t("Endorsements: {count}", { count: endorsements })}</span></p>
    ${sides.length > 0 && html`<div class="sides">
      ${sides.map(([stance, all]) => html`<div class=${`side side-${stance}`}>
          <h5>${stance === "for" ? t("Best arguments for") : t("Best arguments against")}</h5>
          <ul>${all.slice(0, BEST_ARGUMENTS).map((a) => html`<li>${a.text}
            <span class="muted small"> · ${a.room} · ${t("Endorsements: {count}", { count: a.endorsements })}</span></li>`)}</ul>
          ${all.length > BEST_ARGUMENTS && html`<details><summary>${t("All arguments ({count})", { count: all.length })}</summary>
            <ul>${all.slice(BEST_ARGUMENTS).map((a) => html`<li>${a.text}
              <span class="muted small"> · ${a.room}</span></li>`)}</ul></details>`}
        </div>`)}
    </div>`}
    <details class="wordings">
      <summary>${t("Each room's wording ({count})", { count: group.length })}</summary>
      <ul>${group.map((entry) => html`<li class="wording">
        <span class="who">${roomOf(entry)} · ${t("round {round}", { round: roundOf(entry.round_id) })}</span>${": "}${entry.text}</li>`)}</ul>
    </details>
  </article>`;
}

// --- The lead: confirming or rejecting merges ------------------------------------------------

export function MergeProposals({ client, send }) {
  const synthesis = client.assembly?.synthesis;
  if (!synthesis || synthesis.proposals.length === 0) return null;
  const entry = (id) => synthesis.entries.find((e) => e.entry_id === id);
  const open = synthesis.proposals.filter((p) => p.status === "open");
  const decided = synthesis.proposals.filter((p) => p.status !== "open");
  const pair = (p) => html`<ul class="pair">${[p.first, p.second].map((id) => html`<li>
    <span class="who">${entry(id) ? roomOf(entry(id)) : id}</span>${": "}${entry(id)?.text ?? ""}</li>`)}</ul>`;
  return html`<section class="card merge-proposals" aria-labelledby="merges-heading">
    <h2 id="merges-heading">${t("Merge proposals")}</h2>
    ${open.length === 0 && html`<p class="muted">${t("Every proposal has been decided.")}</p>`}
    <ul class="proposals">${open.map((p) => html`<li class="proposal" data-proposal=${p.proposal_id}>
      ${pair(p)}
      <p class="why small">${t("These read alike ({percent}% similar). Shared words: {words}",
        { percent: Math.round(p.similarity * 100), words: p.shared.join(", ") || "—" })}</p>
      ${canonicalEntry(synthesis, p.first) === canonicalEntry(synthesis, p.second)
        && html`<p class="muted small">${t("Already merged through another proposal.")}</p>`}
      <div class="row">
        <${Action} className="primary" label=${t("Merge them")} send=${send}
          command="confirm_merge" fields=${{ proposal_id: p.proposal_id }} />
        <${Action} label=${t("Keep them apart")} send=${send}
          command="reject_merge" fields=${{ proposal_id: p.proposal_id }} />
      </div></li>`)}</ul>
    ${decided.length > 0 && html`<details><summary>${t("Decided ({count})", { count: decided.length })}</summary>
      <ul>${decided.map((p) => html`<li>${pair(p)}<span class="badge">${p.status === "confirmed"
        ? t("merged") : t("kept apart")}</span></li>`)}</ul></details>`}
  </section>`;
}
