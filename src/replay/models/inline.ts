import { packCoreProblem, type CoreProblem } from '../fairness.js';
import type { ModelRun } from '../types.js';
import { assembleRun, emptyProblem, hasCollision, solve, utilizationOf, type ModelInput } from './common.js';

/**
 * WireGuard Inline (Barone et al., Netdev 0x18; MircoBarone/wireguard-linux): every stage of a
 * tunnel runs in the NET_RX softirq that received its outer packet, i.e. on its RSS core; no
 * workqueue hop and no NAPI handoff, so the per-packet cost is (rx + dec + fwd) / gain, and
 * one tunnel (one outer flow, one RSS queue) can never use more than that one core. Per core p:
 *
 *   sum_{rx_i = p} (rx_i + dec_i + fwd_i) / gain * x_i  <=  cap_p
 *
 * Static: nothing moves, so one solve is the steady state.
 */
export interface InlineParams {
  inlineLocalityGain: number;
}

export function inlineProblem(inp: ModelInput, rxPos: ArrayLike<number>, gain: number): CoreProblem {
  const pb = emptyProblem(inp);
  inp.tunnels.forEach((t, i) => {
    const c = (t.rxNs + t.decryptNs + t.forwardNs) / gain / 1e9;
    if (c > 0) pb.extras[rxPos[i]!]!.push([i, c]);
  });
  return pb;
}

/** `rxPos` overrides the tunnels' receive cores (Monte Carlo samples RSS placement). */
export function runInline(inp: ModelInput, par: InlineParams, rxPos?: ArrayLike<number>): ModelRun {
  const pos = rxPos ?? inp.tunnels.map((t) => t.rxPos);
  const moved: ModelInput = rxPos ? { ...inp, tunnels: inp.tunnels.map((t, i) => ({ ...t, rxPos: rxPos[i]! })) } : inp;
  // Packed once for the solve and the usage (each would pack a CoreProblem again).
  const pb = packCoreProblem(inlineProblem(moved, pos, par.inlineLocalityGain));
  const { x } = solve(moved, pb);
  return assembleRun('inline', moved, x, utilizationOf(moved, pb, x), pos, {
    initialCollision: hasCollision(moved, pos),
    convergenceNs: null,
    moves: 0,
  });
}
