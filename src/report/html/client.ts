/**
 * The page's own script: draws the charts from the JSON embedded in the page (the same result
 * objects the tables were rendered from) with the inlined uPlot, and links the findings to the
 * charts. It runs in the browser, not in Node: page.ts inlines `clientMain.toString()`, so
 * tsc checks its syntax and emits it as ES2022; the DOM is typed `any` here because the
 * project's TypeScript has no DOM library. Nothing in it fetches anything (the page's CSP
 * forbids it anyway).
 */
declare const document: any;
declare const window: any;
declare const performance: any;
declare const getComputedStyle: any;
declare const matchMedia: any;
declare const queueMicrotask: (f: () => void) => void;

export function clientMain(data: any, uPlot: any): void {
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id: string): any => document.getElementById(id);
  const css = (name: string): string => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const fmtS = (s: number): string => {
    const a = Math.abs(s);
    return (a >= 100 ? s.toFixed(1) : a >= 10 ? s.toFixed(2) : s.toFixed(3)) + ' s';
  };
  const HEAT_LEVELS = [0, 0.02, 0.05, 0.1, 0.25, 0.5, 0.75];
  const heatLevel = (pm: number): number => {
    if (!(pm > 0)) return 0;
    const x = pm / 1000;
    let l = 1;
    for (let i = 1; i < HEAT_LEVELS.length; i++) if (x >= HEAT_LEVELS[i]!) l = i + 1;
    return l;
  };
  let charts = 0;

  // page.ts packZeros: -n stands for n zeros.
  const unpack = (xs: number[]): number[] => {
    const out: number[] = [];
    for (const x of xs) {
      if (x < 0) for (let i = 0; i < -x; i++) out.push(0);
      else out.push(x);
    }
    return out;
  };
  for (const run of data.runs) {
    for (const c of run.series.cores) for (const k of Object.keys(c.values)) c.values[k] = unpack(c.values[k]);
    for (const h of run.series.heat) h.values = unpack(h.values);
  }

  function setupRun(run: any, ri: number): any {
    const s = run.series;
    const a = run.analyze;
    const id = 'r' + ri;
    const colS = s.columnNs / 1e9;
    const durS = s.durationNs / 1e9;
    // Column c is drawn from x[c] to x[c+1] (stepped); a last point at the end closes the last one.
    const xs: number[] = [];
    for (let c = 0; c < s.columns; c++) xs.push(c * colS);
    xs.push(Math.max(durS, s.columns > 0 ? (s.columns - 1) * colS + 1e-9 : 1e-9));
    const probedFrom = a.capture.probedFromOffsetNs / 1e9;
    const probedTo = probedFrom + a.capture.probedNs / 1e9;
    const dflt: [number, number] = a.capture.probedNs > 0 ? [probedFrom, probedTo] : [0, durS];
    const state: any = { range: dflt.slice(), bands: [] as [number, number][], plots: [] as any[], heat: null, syncing: false };
    const avail = s.categories.filter((c: any) => c.available);

    // ---------------------------------------------------------------- per-core stacked charts
    const host = $(id + '-cores');
    const readout = $(id + '-readout');
    const width = (): number => Math.max(300, host.clientWidth - 70);
    // Draws inside a chart's plotting area only, in canvas pixels.
    const clipped = (u: any, draw: (ctx: any, px: (v: number) => number, top: number, h: number) => void): void => {
      const ctx = u.ctx;
      const { left, top, width: w, height: h } = u.bbox;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, w, h);
      ctx.clip();
      draw(ctx, (v: number): number => u.valToPos(v, 'x', true), top, h);
      ctx.restore();
    };
    // Finding ranges are filled behind the series (drawClear comes before them), so a band
    // never changes the colour of what was measured, and outlined above them.
    const bandsBehind = (u: any): void =>
      clipped(u, (ctx, px, top, h) => {
        ctx.fillStyle = css('--band');
        for (const [b0, b1] of state.bands) {
          const x0 = px(b0);
          ctx.fillRect(x0, top, Math.max(px(b1), x0 + 2) - x0, h);
        }
      });
    const overlay = (u: any): void =>
      clipped(u, (ctx, px, top, h) => {
        // Where the probes were not attached: nothing was measured there, whatever the stack shows.
        ctx.fillStyle = css('--unprobed');
        if (probedFrom > 0) ctx.fillRect(px(0), top, px(probedFrom) - px(0), h);
        if (probedTo < durS) ctx.fillRect(px(probedTo), top, px(durS) - px(probedTo), h);
        ctx.strokeStyle = css('--band-stroke');
        ctx.lineWidth = 1;
        for (const [b0, b1] of state.bands) {
          const x0 = px(b0);
          const x1 = Math.max(px(b1), x0 + 2);
          ctx.strokeRect(x0 + 0.5, top + 0.5, x1 - x0 - 1, h - 1);
        }
      });
    const setRange = (r: [number, number], from: any): void => {
      if (state.syncing) return;
      state.syncing = true;
      state.range = r;
      for (const p of state.plots) if (p !== from) p.setScale('x', { min: r[0], max: r[1] });
      drawHeatRange();
      $(id + '-range').textContent = fmtS(r[0]) + ' .. ' + fmtS(r[1]) + ' from the capture start';
      state.syncing = false;
    };
    // Small multiples: the charts of all cores together take about one screen.
    const plotH = Math.max(50, Math.min(130, Math.round(560 / Math.max(1, s.cores.length))));
    const ySplits = plotH < 60 ? [0, 100] : [0, 50, 100];
    s.cores.forEach((core: any, ci: number) => {
      const last = ci === s.cores.length - 1;
      const row = document.createElement('div');
      row.className = 'core-row';
      row.dataset.cpu = String(core.cpu);
      const label = document.createElement('div');
      label.className = 'core-label';
      const cpuJson = a.cpus.find((c: any) => c.cpu === core.cpu);
      label.textContent = 'cpu' + core.cpu;
      if (cpuJson) {
        const sub = document.createElement('small');
        sub.textContent = ' ' + (cpuJson.utilization * 100).toFixed(1) + '%';
        label.title = 'traced busy over the probed span (the table below)';
        label.appendChild(sub);
      }
      const box = document.createElement('div');
      box.className = 'chart';
      box.id = id + '-cpu' + core.cpu;
      box.setAttribute('role', 'img');
      box.setAttribute('aria-label', 'cpu' + core.cpu + ': share of the core per category over time (figures in the tables below)');
      row.appendChild(label);
      row.appendChild(box);
      host.appendChild(row);
      // Stack bottom-up in category order; uPlot draws series in order, so the tallest
      // (the running total) is drawn first and each lower band paints over it.
      const cum: number[][] = [];
      let acc = new Array(xs.length).fill(0);
      for (const c of avail) {
        const v = core.values[c.key] || [];
        acc = acc.map((x: number, i: number) => x + (i < s.columns ? v[i] || 0 : v[s.columns - 1] || 0) / 10);
        cum.push(acc);
      }
      const order = avail.map((_: any, i: number) => i).reverse();
      const stepped = uPlot.paths.stepped({ align: 1 });
      const series: any[] = [{}];
      const plotData: any[] = [xs];
      for (const i of order) {
        const color = css('--c-' + avail[i].key);
        series.push({ label: avail[i].label, stroke: color, fill: color, width: 0, paths: stepped, points: { show: false } });
        plotData.push(cum[i]);
      }
      const axisColor = css('--fg');
      const gridColor = css('--grid');
      const opts = {
        width: width(),
        height: (last ? 26 : 0) + plotH,
        legend: { show: false },
        cursor: { sync: { key: id }, drag: { x: true, y: false, setScale: false }, points: { show: false } },
        select: { show: true },
        scales: { x: { time: false, min: state.range[0], max: state.range[1] }, y: { range: [0, 100] } },
        axes: [
          {
            stroke: axisColor,
            grid: { stroke: gridColor, width: 1 },
            ticks: { stroke: gridColor },
            size: last ? 30 : 6,
            values: last ? (_u: any, vals: number[]) => vals.map((v) => fmtS(v)) : (_u: any, vals: number[]) => vals.map(() => ''),
          },
          { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor }, size: 52, splits: () => ySplits, values: (_u: any, vals: number[]) => vals.map((v) => v + '%') },
        ],
        series,
        hooks: {
          drawClear: [bandsBehind],
          draw: [overlay],
          setSelect: [
            (u: any) => {
              if (u.select.width < 3) return;
              const r: [number, number] = [u.posToVal(u.select.left, 'x'), u.posToVal(u.select.left + u.select.width, 'x')];
              u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
              setRange(r, null);
            },
          ],
          setCursor: [
            (u: any) => {
              const i = u.cursor.idx;
              if (i === null || i === undefined || i >= s.columns) return;
              const parts = avail.map((c: any) => c.label + ' ' + ((core.values[c.key] || [])[i] / 10).toFixed(1) + '%');
              readout.textContent = 'cpu' + core.cpu + ' at ' + fmtS(xs[i]!) + ' (column of ' + fmtS(colS) + '): ' + parts.join(' · ');
            },
          ],
        },
      };
      const plot = new uPlot(opts, plotData, box);
      box.addEventListener('dblclick', () => setRange(dflt.slice() as [number, number], null));
      state.plots.push(plot);
      charts++;
    });

    // ---------------------------------------------------------------- tunnel x core heat map
    const heatHost = $(id + '-heat');
    const ROW = 16;
    const LABEL = 150;
    const AXIS = 22;
    const napiLabel = (i: number): string => (a.napis[i] ? a.napis[i].dev : '?');
    let groupBy = 'core';
    function drawHeat(): void {
      heatHost.textContent = '';
      const rows = s.heat.slice();
      if (groupBy === 'core') rows.sort((p: any, q: any) => p.cpu - q.cpu || p.napi - q.napi);
      else rows.sort((p: any, q: any) => p.napi - q.napi || p.cpu - q.cpu);
      if (rows.length === 0) {
        heatHost.textContent = 'No NAPI poll in this capture.';
        return;
      }
      // Cells under the charts' plotting area, so one time axis reads for both.
      const over = state.plots.length > 0 ? state.plots[0].over.getBoundingClientRect() : null;
      const hb = heatHost.getBoundingClientRect();
      const L = over && over.width > 0 ? Math.max(90, Math.round(over.left - hb.left)) : LABEL;
      const W = over && over.width > 0 ? Math.round(over.left - hb.left + over.width) : Math.max(300, heatHost.clientWidth);
      const H = rows.length * ROW + 4;
      const outer = document.createElementNS(SVG, 'svg');
      outer.setAttribute('width', String(W));
      outer.setAttribute('height', String(H + AXIS));
      outer.setAttribute('class', 'heat');
      outer.setAttribute('role', 'img');
      outer.setAttribute('aria-label', 'poll time of each tunnel on each core over time');
      let prevGroup: any = null;
      rows.forEach((r: any, k: number) => {
        const g = groupBy === 'core' ? r.cpu : r.napi;
        const t = document.createElementNS(SVG, 'text');
        t.setAttribute('x', '4');
        t.setAttribute('y', String(k * ROW + 12));
        t.setAttribute('class', 'heat-label');
        t.dataset.napi = String(r.napi);
        t.dataset.cpu = String(r.cpu);
        t.textContent = groupBy === 'core' ? (g !== prevGroup ? 'cpu' + r.cpu + '  ' : '') + napiLabel(r.napi) : (g !== prevGroup ? napiLabel(r.napi) + '  ' : '') + 'cpu' + r.cpu;
        if (g !== prevGroup && k > 0) {
          const line = document.createElementNS(SVG, 'line');
          line.setAttribute('x1', '0');
          line.setAttribute('x2', String(W));
          line.setAttribute('y1', String(k * ROW + 0.5));
          line.setAttribute('y2', String(k * ROW + 0.5));
          line.setAttribute('class', 'heat-sep');
          outer.appendChild(line);
        }
        prevGroup = g;
        outer.appendChild(t);
      });
      const inner = document.createElementNS(SVG, 'svg');
      inner.setAttribute('x', String(L));
      inner.setAttribute('y', '0');
      inner.setAttribute('width', String(W - L));
      inner.setAttribute('height', String(H));
      inner.setAttribute('preserveAspectRatio', 'none');
      const bg = document.createElementNS(SVG, 'rect');
      bg.setAttribute('x', '0');
      bg.setAttribute('y', '0');
      bg.setAttribute('width', String(s.columns));
      bg.setAttribute('height', String(H));
      bg.setAttribute('class', 'heat-bg');
      inner.appendChild(bg);
      const under = document.createElementNS(SVG, 'g');
      inner.appendChild(under);
      rows.forEach((r: any, k: number) => {
        // Runs of one level are one rect: a long steady poll is one element, not thousands.
        let c = 0;
        while (c < s.columns) {
          const l = heatLevel(r.values[c]);
          let e = c + 1;
          while (e < s.columns && heatLevel(r.values[e]) === l) e++;
          if (l > 0) {
            const rect = document.createElementNS(SVG, 'rect');
            rect.setAttribute('x', String(c));
            rect.setAttribute('y', String(k * ROW + 1));
            rect.setAttribute('width', String(e - c));
            rect.setAttribute('height', String(ROW - 2));
            rect.setAttribute('class', 'h' + l);
            inner.appendChild(rect);
          }
          c = e;
        }
      });
      const bands = document.createElementNS(SVG, 'g');
      inner.appendChild(bands);
      outer.appendChild(inner);
      heatHost.appendChild(outer);
      const heatRead = $(id + '-heat-readout');
      inner.addEventListener('mousemove', (ev: any) => {
        const box = inner.getBoundingClientRect();
        const fx = (ev.clientX - box.left) / box.width;
        const k = Math.floor((ev.clientY - box.top) / ROW);
        const r = rows[k];
        const [c0, c1] = colRange();
        const c = Math.floor(c0 + fx * (c1 - c0));
        if (!r || c < 0 || c >= s.columns) return;
        heatRead.textContent =
          napiLabel(r.napi) + ' on cpu' + r.cpu + ' at ' + fmtS(c * colS) + ': its polls took ' + (r.values[c] / 10).toFixed(1) + '% of the core in that ' + fmtS(colS) + ' column';
      });
      const axis = document.createElementNS(SVG, 'g');
      axis.setAttribute('class', 'heat-axis');
      outer.appendChild(axis);
      state.heat = { inner, bands, under, H, axis, W, L };
      drawHeatRange();
    }
    const colRange = (): [number, number] => [state.range[0] / colS, state.range[1] / colS];
    function drawHeatRange(): void {
      const h = state.heat;
      if (!h) return;
      const [c0, c1] = colRange();
      h.inner.setAttribute('viewBox', c0 + ' 0 ' + Math.max(1e-6, c1 - c0) + ' ' + h.H);
      h.bands.textContent = '';
      h.under.textContent = '';
      const add = (x0: number, x1: number, cls: string, into: any = h.bands): void => {
        const rect = document.createElementNS(SVG, 'rect');
        rect.setAttribute('x', String(x0 / colS));
        rect.setAttribute('y', '0');
        rect.setAttribute('width', String(Math.max((x1 - x0) / colS, (c1 - c0) / 500)));
        rect.setAttribute('height', String(h.H));
        rect.setAttribute('class', cls);
        into.appendChild(rect);
      };
      if (probedFrom > 0) add(0, probedFrom, 'heat-unprobed');
      if (probedTo < durS) add(probedTo, durS, 'heat-unprobed');
      for (const [b0, b1] of state.bands) {
        add(b0, b1, 'heat-band', h.under);
        add(b0, b1, 'heat-band-edge');
      }
      // Time axis under the cells, in seconds from the capture start like the charts'.
      h.axis.textContent = '';
      const [r0, r1] = state.range;
      const span = r1 - r0;
      if (!(span > 0)) return;
      const raw = span / 8;
      const mag = Math.pow(10, Math.floor(Math.log10(raw)));
      const step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw) || raw;
      const pxOf = (t: number): number => h.L + ((t - r0) / span) * (h.W - h.L);
      for (let t = Math.ceil(r0 / step) * step; t <= r1 + 1e-12; t += step) {
        const x = pxOf(t);
        const tick = document.createElementNS(SVG, 'line');
        tick.setAttribute('x1', String(x));
        tick.setAttribute('x2', String(x));
        tick.setAttribute('y1', String(h.H));
        tick.setAttribute('y2', String(h.H + 5));
        tick.setAttribute('class', 'heat-sep');
        h.axis.appendChild(tick);
        const label = document.createElementNS(SVG, 'text');
        label.setAttribute('x', String(x));
        label.setAttribute('y', String(h.H + 17));
        label.setAttribute('text-anchor', 'middle');
        label.setAttribute('class', 'heat-label');
        label.textContent = fmtS(t);
        h.axis.appendChild(label);
      }
    }
    // After the charts are sized (uPlot does it in a microtask queued by its constructor, so
    // before this one): the cells align with their plotting area.
    queueMicrotask(() => drawHeat());

    // ---------------------------------------------------------------- findings and zoom controls
    const zoomTo = (r0: number, r1: number, bands: [number, number][], cpus: number[], napis: any[]): void => {
      state.bands = bands;
      const pad = Math.max((r1 - r0) * 0.08, colS * 2);
      const r: [number, number] = [Math.max(0, r0 - pad), Math.min(durS, r1 + pad)];
      setRange(r[1] > r[0] ? r : dflt, null);
      for (const p of state.plots) p.redraw(false, false);
      for (const el of host.querySelectorAll('.core-row')) el.classList.toggle('hl', cpus.includes(Number(el.dataset.cpu)));
      const idx = new Set(napis.map((n: any) => a.napis.findIndex((m: any) => m.dev === n.dev && m.napi === n.napi)));
      for (const el of heatHost.querySelectorAll('.heat-label')) el.classList.toggle('hl', idx.has(Number(el.dataset.napi)));
    };
    const rangesOf = (f: any): [number, number][] => {
      const d = f.details || {};
      let rs: any[] = [];
      if (Array.isArray(d.ranges)) rs = d.ranges;
      else if (Array.isArray(d.napis)) for (const n of d.napis) if (Array.isArray(n.longest)) rs = rs.concat(n.longest);
      const out = rs.map((x: any) => [x.startOffsetNs / 1e9, x.endOffsetNs / 1e9] as [number, number]);
      return out.length > 0 ? out : [[f.fromOffsetNs / 1e9, f.toOffsetNs / 1e9]];
    };
    const choose = (fi: number, scroll: boolean): void => {
      const f = a.findings[fi];
      if (!f) return;
      for (const el of document.querySelectorAll('.finding[data-run="' + ri + '"]')) el.classList.toggle('chosen', Number(el.dataset.f) === fi);
      zoomTo(f.fromOffsetNs / 1e9, f.toOffsetNs / 1e9, rangesOf(f), f.cpus, f.napis);
      if (scroll) $(id + '-charts').scrollIntoView({ block: 'start' });
    };
    const probed = (): void => zoomTo(dflt[0], dflt[1], [], [], []);
    const all = (): void => zoomTo(0, durS, [], [], []);
    setRange(state.range, null);
    return {
      choose,
      zoom: (which: string): void => (which === 'all' ? all() : probed()),
      group: (by: string): void => {
        groupBy = by;
        drawHeat();
      },
      resize: (): void => {
        for (const p of state.plots) p.setSize({ width: width(), height: p.height });
        drawHeat();
      },
      destroy: (): void => {
        for (const p of state.plots) p.destroy();
        host.textContent = '';
      },
    };
  }

  // Side by side (--compare): the charts of both captures start at the same height.
  const heads = document.querySelectorAll('.pair .side-head');
  if (heads.length > 1) {
    let h = 0;
    heads.forEach((el: any) => (h = Math.max(h, el.getBoundingClientRect().height)));
    heads.forEach((el: any) => (el.style.minHeight = Math.ceil(h) + 'px'));
  }
  let apis: any[] = data.runs.map((r: any, i: number) => setupRun(r, i));
  // A link to a finding (`report.html#r0-f2`) opens the page zoomed on it.
  const fromHash = (): void => {
    const m = /^#r(\d+)-f(\d+)$/.exec(window.location.hash);
    if (m && apis[Number(m[1])]) apis[Number(m[1])].choose(Number(m[2]), true);
  };
  window.addEventListener('hashchange', fromHash);
  fromHash();
  let timer: any = null;
  window.addEventListener('resize', () => {
    clearTimeout(timer);
    timer = setTimeout(() => apis.forEach((x) => x.resize()), 150);
  });
  // One delegated handler per kind, so redrawing never stacks listeners.
  document.addEventListener('click', (ev: any) => {
    const el = ev.target && ev.target.closest ? ev.target.closest('[data-run]') : null;
    if (!el || !apis[Number(el.dataset.run)]) return;
    const api = apis[Number(el.dataset.run)];
    if (el.classList.contains('finding-link')) {
      ev.preventDefault();
      window.history.replaceState(null, '', '#r' + el.dataset.run + '-f' + el.dataset.f);
      api.choose(Number(el.dataset.f), true);
    } else if (el.dataset.zoom) api.zoom(el.dataset.zoom);
  });
  document.addEventListener('change', (ev: any) => {
    const el = ev.target;
    if (el && el.dataset && el.dataset.heatGroup !== undefined && apis[Number(el.dataset.run)]) apis[Number(el.dataset.run)].group(el.value);
  });
  // Dark mode switched while the page is open, or printing: canvas colours come from the CSS.
  const redrawAll = (): void => {
    apis.forEach((x) => x.destroy());
    charts = 0;
    apis = data.runs.map((r: any, i: number) => setupRun(r, i));
  };
  if (matchMedia) matchMedia('(prefers-color-scheme: dark)').addEventListener('change', redrawAll);
  window.addEventListener('beforeprint', redrawAll);
  window.addEventListener('afterprint', redrawAll);

  // For the browser test and the bench: how long the page took to draw, and where the charts
  // are. Queued after every chart's and heat map's own microtask, so it runs once their drawing
  // commands have run, and before the load event (when headless chromium dumps the DOM).
  queueMicrotask(() =>
    queueMicrotask(() => {
      document.querySelectorAll('.chart, .heat-host').forEach((el: any) => {
        const b = el.getBoundingClientRect();
        el.dataset.rect = [Math.round(b.left + window.scrollX), Math.round(b.top + window.scrollY), Math.round(b.width), Math.round(b.height)].join(',');
      });
      document.documentElement.dataset.charts = String(charts);
      document.documentElement.dataset.drawMs = String(Math.round(performance.now()));
      document.documentElement.dataset.ready = '1';
    }),
  );
}
