// The argument map: questions, positions answering them, arguments for and against, replies.
import { useState } from "preact/hooks";
import { t } from "./i18n.js";
import { Action, html, nameOf } from "./ui.js";

export function ArgumentMap(ctx) {
  const { room, moderator } = ctx;
  const questions = room.nodes.filter((node) => node.kind === "question");
  return html`<section class="card map" aria-labelledby="map-heading">
    <h3 id="map-heading">${t("Arguments")}</h3>
    ${questions.length === 0 && html`<p class="muted">${t("No question has been posed yet.")}</p>`}
    ${questions.map((question) => html`<${Question} ...${ctx} node=${question} />`)}
    ${moderator && html`<${PostForm} label=${t("Pose a question")} send=${ctx.send}
      command="pose_question" fields=${{}} />`}
  </section>`;
}

function childrenOf(room, parent) {
  return room.nodes.filter((node) => node.parent === parent);
}

function Question(ctx) {
  const { node, room } = ctx;
  return html`<article class="question">
    <h4><${NodeText} ...${ctx} /></h4>
    <${NodeActions} ...${ctx} />
    <ul class="positions">
      ${childrenOf(room, node.node_id).map((position) => html`<li>
        <${Position} ...${ctx} node=${position} /></li>`)}
    </ul>
    ${ctx.contributor && html`<${PostForm} label=${t("Add a position")} send=${ctx.send}
      disabled=${ctx.muted}
      command="post_position" fields=${{ question_id: node.node_id }} />`}
  </article>`;
}

function Position(ctx) {
  const { node, room } = ctx;
  const args = childrenOf(room, node.node_id);
  const side = (stance) => args.filter((arg) => arg.stance === stance);
  return html`<div class="position">
    <p class="position-text"><${NodeText} ...${ctx} /></p>
    <${NodeActions} ...${ctx} />
    <div class="sides">
      ${["for", "against"].map((stance) => html`<div class=${`side side-${stance}`}>
        <h5>${stance === "for" ? t("For") : t("Against")}</h5>
        <ul>${side(stance).map((arg) => html`<li><${Argument} ...${ctx} node=${arg} /></li>`)}</ul>
        ${ctx.contributor && html`<${PostForm}
          label=${stance === "for" ? t("Add an argument for") : t("Add an argument against")}
          send=${ctx.send} command="post_argument" disabled=${ctx.muted}
          fields=${{ position_id: node.node_id, stance }} />`}
      </div>`)}
    </div>
  </div>`;
}

function Argument(ctx) {
  const { node, room } = ctx;
  const replies = (id) => childrenOf(room, id);
  return html`<div class="argument">
    <p><${NodeText} ...${ctx} /></p>
    <${NodeActions} ...${ctx} />
    <ul class="replies">${replies(node.node_id).map((reply) => html`<li>
      <${Argument} ...${ctx} node=${reply} /></li>`)}</ul>
    ${ctx.contributor && html`<${PostForm} label=${t("Reply")} send=${ctx.send}
      disabled=${ctx.muted}
      command="post_reply" fields=${{ parent_id: node.node_id }} compact />`}
  </div>`;
}

/** A post's text, or why it is hidden; a merged duplicate points at its original. */
function NodeText({ node, client }) {
  if (node.hidden) {
    const last = node.moderation.filter((m) => m.action === "hidden").at(-1);
    return html`<span class="hidden-post">${t("Hidden by a facilitator: {reason}",
      { reason: last?.reason ?? "" })}</span>
      ${node.text !== null && html` <span class="hidden-text">${node.text}</span>`}`;
  }
  return html`<span class="node-text">${node.text}</span>
    <span class="author"> · ${nameOf(client, node.author)}</span>
    ${node.merged_into && html` <span class="badge">${t("duplicate")}</span>`}`;
}

function NodeActions({ node, room, you, send, moderator, juror }) {
  const [hiding, setHiding] = useState(false);
  const [reason, setReason] = useState("");
  const endorsed = node.endorsers.includes(you.participant);
  const count = node.endorsers.length;
  const merge = room.nodes.filter((other) => other.kind === node.kind && other.node_id !== node.node_id
    && other.parent === node.parent && !other.merged_into);
  const hide = async (event) => {
    event.preventDefault();
    const ack = await send(node.hidden ? "unhide_post" : "hide_post",
      { node_id: node.node_id, reason });
    if (ack.ok) { setHiding(false); setReason(""); }
  };
  return html`<div class="node-actions row small">
    ${node.kind !== "question" && html`<span class="endorsements">${t("Endorsements: {count}", { count })}</span>`}
    ${juror && node.kind !== "question" && !node.hidden && node.author !== you.participant && (endorsed
      ? html`<${Action} label=${t("Withdraw my endorsement")} send=${send}
          command="withdraw_endorsement" fields=${{ node_id: node.node_id }} />`
      : html`<${Action} label=${t("Endorse")} send=${send} command="endorse"
          fields=${{ node_id: node.node_id }} />`)}
    ${juror && room.floor?.speaker === you.participant && html`<${Action}
      label=${t("I am speaking to this")} send=${send} command="link_turn"
      fields=${{ node_id: node.node_id }} />`}
    ${moderator && html`<details class="menu">
      <summary>${t("Moderate")}<span class="visually-hidden">: ${(node.text ?? "").slice(0, 40)}</span></summary>
      <div class="menu-body">
        ${!hiding && html`<button type="button" onClick=${() => setHiding(true)}>
          ${node.hidden ? t("Unhide") : t("Hide")}</button>`}
        ${hiding && html`<form class="row" onSubmit=${hide}>
          <label for=${`reason-${node.node_id}`}>${t("Reason (kept on the record)")}</label>
          <input id=${`reason-${node.node_id}`} value=${reason} required maxlength="200"
            onInput=${(e) => setReason(e.target.value)} />
          <button type="submit">${node.hidden ? t("Unhide") : t("Hide")}</button>
          <button type="button" onClick=${() => setHiding(false)}>${t("Cancel")}</button></form>`}
        ${!node.merged_into && merge.length > 0 && html`<${MergeControl}
          node=${node} candidates=${merge} send=${send} />`}
      </div></details>`}
  </div>`;
}

function MergeControl({ node, candidates, send }) {
  const [into, setInto] = useState("");
  return html`<span class="row">
    <label for=${`merge-${node.node_id}`}>${t("Duplicate of")}</label>
    <select id=${`merge-${node.node_id}`} value=${into} onChange=${(e) => setInto(e.target.value)}>
      <option value="">—</option>
      ${candidates.map((c) => html`<option value=${c.node_id}>${(c.text ?? "").slice(0, 40)}</option>`)}
    </select>
    <${Action} label=${t("Merge")} send=${send} command="merge_nodes" disabled=${!into}
      fields=${{ duplicate_id: node.node_id, into_id: into }} onDone=${() => setInto("")} />
  </span>`;
}

let formCount = 0;

/** A small form to post text: opened on demand, so the map stays readable. */
export function PostForm({ label, send, command, fields, compact = false, disabled = false }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const [id] = useState(() => `post-${++formCount}`);
  // Disabled (a muted juror): shown, so the map reads the same, but closed and inert.
  if (!open || disabled) {
    return html`<button type="button" class=${compact ? "link" : ""} disabled=${disabled}
      onClick=${() => setOpen(true)}>${label}</button>`;
  }
  const submit = async (event) => {
    event.preventDefault();
    const ack = await send(command, { ...fields, text });
    if (ack.ok) { setText(""); setOpen(false); }
  };
  return html`<form class="post-form" onSubmit=${submit}>
    <label for=${id}>${label}</label>
    <textarea id=${id} rows="2" maxlength="2000" value=${text} required
      onInput=${(e) => setText(e.target.value)}></textarea>
    <div class="row"><button type="submit" class="primary">${t("Post")}</button>
      <button type="button" onClick=${() => setOpen(false)}>${t("Cancel")}</button></div>
  </form>`;
}
