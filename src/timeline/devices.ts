import type { CaptureHeader } from '../model/header.js';
import type { DeviceSeries } from './types.js';

/** drivers/net/wireguard/device.c: alloc_workqueue("wg-crypt-%s", ...). */
const CRYPT_WQ_PREFIX = 'wg-crypt-';
/** Device name used for crypt work whose queue_work was never seen. */
export const UNKNOWN_DEVICE = '(unknown)';

/** One CPU's share of a crypt work item: busy ns, and items started there (undefined: only continuations). */
class CryptCpu {
  busy = 0;
  items: number | undefined = undefined;
}

/**
 * Per work pointer: the device its last wg-crypt queue_work named, and its busy time and items
 * per CPU. WireGuard's crypt work is per device and
 * per CPU (drivers/net/wireguard/queueing.c: wg_packet_percpu_multicore_worker_alloc, run by
 * queue_work_on on its CPU), so a pointer almost always runs on one CPU: that one is held
 * inline, any other in a map. (Arrays indexed by CPU id cost ~2 KB per pointer at 128 CPUs:
 * 180 MB for the 1,024 x 128 = 131,072 pointers of a 1,024-tunnel gateway.) Device and runs
 * in one object, so that each queue_work and each run looks its pointer up once, in one map
 * (two maps keyed by pointer text were 11% of a profile of loadTimeline on a 1,024 x 128 stock synth
 * capture).
 */
class WorkAcc {
  /** From workqueue_queue_work on wg-crypt-<dev> (undefined: none seen). */
  dev: string | undefined = undefined;
  /** CPU of `first` (-1: the work never ran). */
  firstCpu = -1;
  first: CryptCpu | undefined;
  private others: Map<number, CryptCpu> | undefined;
  at(cpu: number): CryptCpu {
    if (cpu === this.firstCpu) return this.first!;
    if (this.first === undefined) {
      this.firstCpu = cpu;
      return (this.first = new CryptCpu());
    }
    let o = (this.others ??= new Map()).get(cpu);
    if (o === undefined) this.others.set(cpu, (o = new CryptCpu()));
    return o;
  }
  /** [cpu, share] by CPU id ascending; undefined when the work ran on `firstCpu` alone (the common case, read from `first`). */
  entries(): [number, CryptCpu][] | undefined {
    if (this.others === undefined) return undefined;
    const out: [number, CryptCpu][] = [[this.firstCpu, this.first!], ...this.others];
    out.sort((a, b) => a[0] - b[0]);
    return out;
  }
}

/** Per wg-crypt-<dev> workqueue name: queue_work counts per requesting CPU id. */
class QueueAcc {
  readonly byCpu: number[] = [];
  constructor(readonly dev: string) {}
}

/**
 * Crypt attribution (docs/timeline.md): `workqueue_queue_work` on `wg-crypt-<dev>` maps a work
 * pointer to its device, and crypt time is accumulated per work pointer, so it does not matter
 * whether the queue_work (on the receiving CPU) is read before or after the execution (on
 * another CPU): the two meet in `series`, after the last event.
 */
export class CryptAttribution {
  /** work pointer -> its device and runs. */
  private readonly works = new Map<string, WorkAcc>();
  /** The works that ran, in the order of their first run (the order the devices' sums are made in). */
  private readonly ran: WorkAcc[] = [];
  private readonly queueByWq = new Map<string, QueueAcc>();
  /** Last workqueue name seen and its accumulator (null: not a wg-crypt queue). */
  private lastWq = '';
  private lastQ: QueueAcc | null = null;

  queueWork(cpu: number, work: string, workqueue: string): void {
    // Importers intern these names, so the last workqueue seen is usually the same string.
    let q: QueueAcc | null | undefined = workqueue === this.lastWq ? this.lastQ : undefined;
    if (q === undefined) {
      q = workqueue.startsWith(CRYPT_WQ_PREFIX) ? this.queueByWq.get(workqueue) : null;
      if (q === undefined) this.queueByWq.set(workqueue, (q = new QueueAcc(workqueue.slice(CRYPT_WQ_PREFIX.length))));
      this.lastWq = workqueue;
      this.lastQ = q;
    }
    if (q === null) return;
    let acc = this.works.get(work);
    if (acc === undefined) this.works.set(work, (acc = new WorkAcc()));
    acc.dev = q.dev;
    // Counted on the CPU the event fired on: the CPU that received the packet (its RSS core).
    // req_cpu is not it: wg queues with queue_work_on(the round-robin decrypt CPU, ...).
    q.byCpu[cpu] = (q.byCpu[cpu] ?? 0) + 1;
  }

  /** A crypt work item's run of `ns` on `cpu` closed; `continued`: the rest of an item already counted. */
  addRun(work: string, cpu: number, ns: number, continued: boolean): void {
    let acc = this.works.get(work);
    if (acc === undefined) this.works.set(work, (acc = new WorkAcc()));
    if (acc.firstCpu === -1) this.ran.push(acc);
    const share = acc.at(cpu);
    share.busy += ns;
    if (!continued) share.items = (share.items ?? 0) + 1;
  }

  /** Per device: the header's devices, then any seen in queue_work or crypt runs. */
  series(header: CaptureHeader | undefined): Map<string, DeviceSeries> {
    const devices = new Map<string, DeviceSeries>();
    const devOf = (name: string): DeviceSeries => {
      let d = devices.get(name);
      if (d === undefined) devices.set(name, (d = { dev: name, cryptBusyByCpu: new Map(), cryptItemsByCpu: new Map(), queueWorkByCpu: new Map() }));
      return d;
    };
    for (const d of header?.devices ?? []) devOf(d.name);
    const addTo = (m: Map<number, number>, arr: readonly (number | undefined)[]) => {
      for (let cpu = 0; cpu < arr.length; cpu++) {
        const v = arr[cpu];
        if (v !== undefined) m.set(cpu, (m.get(cpu) ?? 0) + v);
      }
    };
    for (const q of this.queueByWq.values()) addTo(devOf(q.dev).queueWorkByCpu, q.byCpu);
    for (const acc of this.ran) {
      const d = devOf(acc.dev ?? UNKNOWN_DEVICE);
      const all = acc.entries();
      if (all === undefined) {
        const cpu = acc.firstCpu;
        const share = acc.first!;
        d.cryptBusyByCpu.set(cpu, (d.cryptBusyByCpu.get(cpu) ?? 0) + share.busy);
        if (share.items !== undefined) d.cryptItemsByCpu.set(cpu, (d.cryptItemsByCpu.get(cpu) ?? 0) + share.items);
        continue;
      }
      for (const [cpu, share] of all) d.cryptBusyByCpu.set(cpu, (d.cryptBusyByCpu.get(cpu) ?? 0) + share.busy);
      for (const [cpu, share] of all) if (share.items !== undefined) d.cryptItemsByCpu.set(cpu, (d.cryptItemsByCpu.get(cpu) ?? 0) + share.items);
    }
    return devices;
  }

  /** Drops the works' accumulators once `series` has summed them (131,072 work pointers on a 1,024 x 128 stock synth capture: 12 MB of the load's live heap). */
  release(): void {
    this.works.clear();
    this.ran.length = 0;
  }
}
