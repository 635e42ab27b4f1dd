// Each event exactly once, in seq order, per stream: whatever order the network delivers them
// in, and however a snapshot and the events around it interleave. Knows nothing of sockets:
// the page feeds it payloads and snapshots' seqs, and re-syncs when it reports a gap.

/** A gap this old is not a reordering any more: something was lost. */
const GAP_MS = 3000;
/** Past this many waiting events in one stream, re-sync at once rather than wait. */
const MAX_BUFFERED = 500;

/**
 * @typedef {{room: string, seq: number, [field: string]: any}} Sequenced
 * @typedef {{stream: string, lastSeq: number | null, waitingFor: number | null,
 *   buffered: number}} Gap
 * @typedef {{
 *   apply: (payload: Sequenced) => void,
 *   onGap?: (gap: Gap) => void,
 *   gapMs?: number,
 *   maxBuffered?: number,
 *   setTimer?: (run: () => void, ms: number) => unknown,
 *   clearTimer?: (timer: any) => void,
 * }} SequencerOptions
 */

/**
 * Applies each stream's payloads once and in order: drops seqs already applied, holds back
 * those after a gap until it fills, and calls `onGap` when a gap lasts (`gapMs`) or grows
 * past `maxBuffered`. A stream's first seq comes from a snapshot (`reset`); payloads that
 * arrive before it wait for it.
 */
export class StreamSequencer {
  /** @param {SequencerOptions} options */
  constructor({
    apply,
    onGap = () => {},
    gapMs = GAP_MS,
    maxBuffered = MAX_BUFFERED,
    setTimer = (run, ms) => setTimeout(run, ms),
    clearTimer = (timer) => clearTimeout(timer),
  }) {
    this.apply = apply;
    this.onGap = onGap;
    this.gapMs = gapMs;
    this.maxBuffered = maxBuffered;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    /** @type {Map<string, number>} the last seq applied, per stream with a snapshot */
    this.last = new Map();
    /** @type {Map<string, Map<number, Sequenced>>} payloads waiting, by seq */
    this.waiting = new Map();
    /** @type {Map<string, unknown>} the gap timer of each stream that has one */
    this.timers = new Map();
    /** @type {Set<string>} streams whose buffer overflowed, reported once */
    this.overflowed = new Set();
  }

  /**
   * A payload of a stream; applies it and any that were waiting for it, if their turn came.
   * @param {Sequenced} payload
   * @returns {number} how many payloads this applied
   */
  receive(payload) {
    const stream = payload.room;
    const last = this.last.get(stream);
    if (last !== undefined && payload.seq <= last) return 0; // Already in the state.
    this.pending(stream).set(payload.seq, payload);
    return this.drain(stream);
  }

  /**
   * A snapshot of `stream` at `seq` is now the state: older payloads are dropped, newer ones
   * that were waiting are applied.
   * @param {string} stream
   * @param {number} seq
   * @returns {number} how many waiting payloads this applied
   */
  reset(stream, seq) {
    this.last.set(stream, seq);
    this.overflowed.delete(stream);
    const waiting = this.waiting.get(stream);
    if (waiting) for (const held of waiting.keys()) if (held <= seq) waiting.delete(held);
    return this.drain(stream);
  }

  /**
   * Stop following `stream`: its seq and anything waiting are forgotten.
   * @param {string} stream
   */
  forget(stream) {
    this.last.delete(stream);
    this.waiting.delete(stream);
    this.overflowed.delete(stream);
    this.stopTimer(stream);
  }

  /** @returns {string[]} the streams with a known seq */
  streams() {
    return [...this.last.keys()];
  }

  /** @returns {Record<string, number>} stream -> last seq applied: what to resume from */
  lastSeqs() {
    return Object.fromEntries(this.last);
  }

  /**
   * How many payloads of `stream` wait for an earlier one (or for its snapshot).
   * @param {string} stream
   */
  buffered(stream) {
    return this.waiting.get(stream)?.size ?? 0;
  }

  /** Cancel every timer: for a page that goes away. */
  close() {
    for (const stream of [...this.timers.keys()]) this.stopTimer(stream);
  }

  // --- Inside ------------------------------------------------------------------------------

  /** @param {string} stream */
  pending(stream) {
    let waiting = this.waiting.get(stream);
    if (!waiting) {
      waiting = new Map();
      this.waiting.set(stream, waiting);
    }
    return waiting;
  }

  /**
   * Apply the waiting payloads that follow the last seq without a gap.
   * @param {string} stream
   */
  drain(stream) {
    let applied = 0;
    for (;;) {
      // Read afresh each time: `apply` may feed this sequencer more payloads of the stream.
      const last = this.last.get(stream);
      const next = last === undefined ? undefined : this.waiting.get(stream)?.get(last + 1);
      if (last === undefined || next === undefined) break;
      this.waiting.get(stream)?.delete(last + 1);
      // Recorded before applying, so the same payload fed back in is dropped, not re-applied.
      this.last.set(stream, last + 1);
      this.apply(next);
      applied += 1;
    }
    this.watch(stream);
    return applied;
  }

  /**
   * Time a gap while payloads wait; report it at once when too many do.
   * @param {string} stream
   */
  watch(stream) {
    const count = this.buffered(stream);
    if (count === 0) {
      this.waiting.delete(stream);
      this.overflowed.delete(stream);
      this.stopTimer(stream);
      return;
    }
    if (count > this.maxBuffered) {
      this.stopTimer(stream);
      // Once per overflow: the re-sync it asks for takes a moment to answer.
      if (!this.overflowed.has(stream)) this.onGap(this.gap(stream));
      this.overflowed.add(stream);
      return;
    }
    if (!this.timers.has(stream)) {
      const timer = this.setTimer(() => {
        if (this.timers.get(stream) !== timer) return; // Cancelled, or replaced.
        this.timers.delete(stream);
        if (this.buffered(stream) > 0) this.onGap(this.gap(stream));
      }, this.gapMs);
      this.timers.set(stream, timer);
    }
  }

  /** @param {string} stream */
  stopTimer(stream) {
    if (!this.timers.has(stream)) return;
    this.clearTimer(this.timers.get(stream));
    this.timers.delete(stream);
  }

  /**
   * @param {string} stream
   * @returns {Gap}
   */
  gap(stream) {
    const last = this.last.get(stream);
    return {
      stream,
      lastSeq: last ?? null,
      waitingFor: last === undefined ? null : last + 1,
      buffered: this.buffered(stream),
    };
  }
}
