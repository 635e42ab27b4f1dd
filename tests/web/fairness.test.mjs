// The strata of the lead's room cards, as `facilitation/metrics.py` works them out.
// Run with `node --test tests/web/` (tests/web/test_node_units.py does).
import assert from "node:assert/strict";
import { test } from "node:test";
import { figuresMeanSomething, quietestStratum, strata } from "../../web/static/js/fairness.js";

const figures = (spoken) => ({
  room: "plenary",
  speakers: Object.entries(spoken).map(([participant, ms]) => ({
    participant, spoken_ms: ms, turns: ms ? 1 : 0, longest_wait_ms: 0, voiced_ms: 0,
  })),
  gini: 0, voiced_gini: 0, share_spoken: 0, not_spoken: [],
});

const client = {
  people: {
    n1: { name: "N1", role: "juror", attributes: { region: "north" } },
    n2: { name: "N2", role: "juror", attributes: { region: "north" } },
    s1: { name: "S1", role: "juror", attributes: { region: "south" } },
    s2: { name: "S2", role: "juror", attributes: { region: "south" } },
    x: { name: "X", role: "juror", attributes: {} },
  },
};

test("each stratum's share of floor time is set against its share of seats", () => {
  const shares = strata(client, figures({ n1: 90000, n2: 60000, s1: 50000, s2: 0, x: 10000 }));
  assert.deepEqual(shares.map((s) => [s.value, s.seats, s.seat_share, s.spoken_ms]), [
    ["north", 2, 0.5, 150000],
    ["south", 2, 0.5, 50000],
  ]);
  // A juror without the attribute counts in none of its strata.
  assert.equal(shares[1].speaking_share, 50000 / 200000);
  const quiet = quietestStratum(shares);
  assert.equal(quiet?.value, "south");
  assert.equal(quiet?.ratio, 0.5);
});

test("before anyone spoke there is no quietest stratum", () => {
  assert.equal(quietestStratum(strata(client, figures({ n1: 0, s1: 0 }))), null);
  assert.equal(quietestStratum([]), null);
});

test("inequality figures wait for three speakers or two minutes of floor time", () => {
  // One person's few seconds say nothing about fairness yet.
  const one = { ...figures({ n1: 6000, n2: 0, s1: 0 }), not_spoken: ["n2", "s1"] };
  assert.equal(figuresMeanSomething(one), false);
  const long = { ...figures({ n1: 120000, n2: 0, s1: 0 }), not_spoken: ["n2", "s1"] };
  assert.equal(figuresMeanSomething(long), true);
  const three = { ...figures({ n1: 1000, n2: 1000, s1: 1000 }), not_spoken: [] };
  assert.equal(figuresMeanSomething(three), true);
});
