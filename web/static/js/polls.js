// Polls: vote and change one's vote until the poll closes; results as bars.
import { useState } from "preact/hooks";
import { t } from "./i18n.js";
import { Action, html } from "./ui.js";

export function Polls(ctx) {
  const { room, moderator } = ctx;
  const polls = [...room.polls].reverse();
  if (!moderator && polls.length === 0) return null;
  return html`<section class="card polls" aria-labelledby="polls-heading">
    <h3 id="polls-heading">${t("Polls")}</h3>
    ${polls.map((poll) => html`<${Poll} ...${ctx} poll=${poll} />`)}
    ${moderator && html`<${OpenPollForm} send=${ctx.send} />`}
  </section>`;
}

function Poll({ poll, you, send, juror, moderator }) {
  const mine = poll.votes?.[you.participant] ?? [];
  const [choices, setChoices] = useState(mine);
  // A secret ballot never comes back with the person's own choices: the ack is the proof.
  const [recorded, setRecorded] = useState(false);
  const multiple = poll.kind === "multiple";
  const name = `poll-${poll.poll_id}`;
  const toggle = (index) => setChoices(multiple
    ? (choices.includes(index) ? choices.filter((c) => c !== index) : [...choices, index])
    : [index]);
  const most = Math.max(1, ...poll.totals);
  return html`<fieldset class="poll">
    <legend>${poll.question} ${poll.secret && html`<span class="badge">${t("secret ballot")}</span>`}
      ${!poll.open && html` <span class="badge">${t("closed")}</span>`}</legend>
    ${poll.secret && poll.open && !juror
      ? html`<p class="muted">${t("The results appear when the poll closes.")}</p>`
      : juror && poll.open ? html`
      ${poll.options.map((option, index) => html`<label class="choice">
        <input type=${multiple ? "checkbox" : "radio"} name=${name}
          checked=${choices.includes(index)} onChange=${() => toggle(index)} /> ${option}</label>`)}
      <${Action} className="primary"
        label=${mine.length || recorded ? t("Change my vote") : t("Vote")}
        send=${send} command="vote" disabled=${choices.length === 0}
        fields=${{ poll_id: poll.poll_id, choices }} onDone=${() => setRecorded(true)} />
      ${(recorded || mine.length > 0) && html`<p class="vote-recorded" role="status">
        ${t("Your vote is recorded.")}
        ${poll.secret ? ` ${t("This is a secret ballot: nobody, facilitators included, can see how you voted.")}` : ""}</p>`}`
    : html`<ul class="results">${poll.options.map((option, index) => html`<li>
        <span class="option">${option}</span>
        <span class="bar" aria-hidden="true"><span style=${{ width: `${(100 * poll.totals[index]) / most}%` }}></span></span>
        <span class="total">${poll.totals[index]}</span></li>`)}</ul>`}
    <p class="muted">${t("Voters: {count}", { count: poll.voters })}</p>
    ${moderator && poll.open && html`<${Action} label=${t("Close the poll")} send=${send}
      command="close_poll" fields=${{ poll_id: poll.poll_id }} />`}
  </fieldset>`;
}

function OpenPollForm({ send }) {
  const [open, setOpen] = useState(false);
  const [question, setQuestion] = useState("");
  const [kind, setKind] = useState("single");
  const [options, setOptions] = useState("");
  const [secret, setSecret] = useState(false);
  if (!open) return html`<button type="button" onClick=${() => setOpen(true)}>${t("Open a poll")}</button>`;
  const submit = async (event) => {
    event.preventDefault();
    const list = options.split("\n").map((line) => line.trim()).filter(Boolean);
    const ack = await send("open_poll", { question, kind, options: list, secret });
    if (ack.ok) { setOpen(false); setQuestion(""); setOptions(""); }
  };
  return html`<form class="post-form" onSubmit=${submit}>
    <label for="poll-question">${t("Question")}</label>
    <input id="poll-question" value=${question} required maxlength="2000"
      onInput=${(e) => setQuestion(e.target.value)} />
    <label for="poll-kind">${t("Kind")}</label>
    <select id="poll-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
      <option value="single">${t("One choice")}</option>
      <option value="multiple">${t("Several choices")}</option>
      <option value="scale">${t("Agree or disagree")}</option>
    </select>
    ${kind !== "scale" && html`<label for="poll-options">${t("Options, one per line")}</label>
      <textarea id="poll-options" rows="3" value=${options}
        onInput=${(e) => setOptions(e.target.value)}></textarea>`}
    <label class="choice toggle"><input type="checkbox" checked=${secret}
      onChange=${(e) => setSecret(e.target.checked)} /> ${t("Secret ballot: show totals only")}</label>
    <div class="row"><button type="submit" class="primary">${t("Open the poll")}</button>
      <button type="button" onClick=${() => setOpen(false)}>${t("Cancel")}</button></div>
  </form>`;
}
