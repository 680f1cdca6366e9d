/**
 * The page's stylesheet. Colours are the Okabe-Ito palette (Okabe & Ito, "Color Universal
 * Design"), chosen so readers with any common colour-vision deficiency tell the categories
 * apart; the heat map is one hue from light to dark (ColorBrewer "Blues"), read by lightness
 * alone. Dark mode follows prefers-color-scheme; print forces the light colours and drops the
 * controls. The charts read their colours from these variables when they draw.
 */
export const PAGE_CSS = `
:root {
  --bg: #ffffff; --fg: #1b1b1b; --muted: #5c5c5c; --grid: #e3e3e3; --rule: #d0d0d0; --panel: #f6f6f6;
  --c-netRx: #D55E00; --c-tunnelPolls: #0072B2; --c-otherNapis: #56B4E9; --c-crypt: #009E73;
  --c-otherTraced: #CC79A7; --c-untraced: #E69F00; --c-idle: #d9d9d9;
  --unprobed: rgba(120, 120, 120, 0.22); --band: rgba(240, 228, 66, 0.38); --band-stroke: #8a7f00;
  --h1: #eff3ff; --h2: #c6dbef; --h3: #9ecae1; --h4: #6baed6; --h5: #4292c6; --h6: #2171b5; --h7: #084594;
  --bad: #b33c00; --link: #0060a0;
  --m-stock: #D55E00; --m-threaded: #0072B2; --m-inline: #009E73;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #161616; --fg: #e8e8e8; --muted: #a8a8a8; --grid: #343434; --rule: #444; --panel: #222;
    --c-idle: #3b3b3b; --c-tunnelPolls: #3a8fd0;
    --unprobed: rgba(160, 160, 160, 0.18); --band: rgba(240, 228, 66, 0.28); --band-stroke: #f0e442;
    --h1: #0b2545; --h2: #08519c; --h3: #2171b5; --h4: #4292c6; --h5: #6baed6; --h6: #9ecae1; --h7: #deebf7;
    --bad: #ff9a5c; --link: #7cc4ff;
    --m-threaded: #56B4E9;
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--fg); }
body { margin: 0 auto; max-width: 1400px; padding: 12px 20px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
a { color: var(--link); }
h1 { font-size: 22px; margin: 4px 0; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-top: 8px; border-top: 1px solid var(--rule); }
h3 { font-size: 15px; margin: 16px 0 6px; }
h4 { font-size: 14px; margin: 10px 0 4px; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
pre { background: var(--panel); padding: 6px 8px; overflow-x: auto; }
.subtitle { margin: 0; color: var(--muted); }
nav a { margin-right: 12px; }
.muted { color: var(--muted); }
.bad { color: var(--bad); }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
.pair > .side { min-width: 0; }
.side-title { margin-top: 0; font-size: 14px; color: var(--muted); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { padding: 2px 8px; border-bottom: 1px solid var(--grid); text-align: left; vertical-align: top; }
thead th { font-weight: 600; border-bottom: 1px solid var(--rule); vertical-align: bottom; }
.nowrap { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.facts th { font-weight: 600; white-space: nowrap; }
tr.bad td, tr.bad th { color: var(--bad); }
.legend { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 4px 18px; }
.legend li { white-space: nowrap; }
.legend li.missing { white-space: normal; }
.legend .muted { font-size: 12px; white-space: normal; }
.legend li.missing { color: var(--muted); }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -1px; border: 1px solid var(--rule); }
.swatch.none { background: transparent; border-style: dashed; }
.sw-netRx { background: var(--c-netRx); } .sw-tunnelPolls { background: var(--c-tunnelPolls); } .sw-otherNapis { background: var(--c-otherNapis); }
.sw-crypt { background: var(--c-crypt); } .sw-otherTraced { background: var(--c-otherTraced); } .sw-untraced { background: var(--c-untraced); }
.sw-idle { background: var(--c-idle); } .sw-unprobed { background: var(--unprobed); } .sw-band { background: var(--band); border-color: var(--band-stroke); }
.h-sw1 { background: var(--h1); } .h-sw2 { background: var(--h2); } .h-sw3 { background: var(--h3); } .h-sw4 { background: var(--h4); }
.h-sw5 { background: var(--h5); } .h-sw6 { background: var(--h6); } .h-sw7 { background: var(--h7); }
.m-sw-stock { background: var(--m-stock); } .m-sw-threaded { background: var(--m-threaded); } .m-sw-inline { background: var(--m-inline); }
.toolbar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 6px 0; }
button, select { font: inherit; color: var(--fg); background: var(--panel); border: 1px solid var(--rule); border-radius: 3px; padding: 2px 8px; cursor: pointer; }
.cores { margin: 4px 0; }
.core-row { display: grid; grid-template-columns: 64px 1fr; align-items: start; border-left: 3px solid transparent; }
.core-row.hl { border-left-color: var(--band-stroke); background: var(--panel); }
.core-label { font-size: 12px; padding-top: 4px; font-variant-numeric: tabular-nums; }
.core-label small { color: var(--muted); font-size: 10.5px; }
.chart { min-height: 60px; }
.readout { min-height: 1.5em; font-size: 12.5px; font-variant-numeric: tabular-nums; }
.heat-host { margin: 4px 0; min-height: 20px; }
svg.heat { display: block; }
.heat-label { font-size: 11px; fill: var(--fg); font-family: ui-monospace, Menlo, Consolas, monospace; white-space: pre; }
.heat-label.hl { font-weight: 700; fill: var(--bad); }
.heat-bg { fill: var(--bg); }
.heat-sep { stroke: var(--rule); stroke-width: 1; }
.heat-unprobed { fill: var(--unprobed); }
.heat-band { fill: var(--band); }
.heat-band-edge { fill: none; stroke: var(--band-stroke); stroke-width: 1; vector-effect: non-scaling-stroke; }
.h1 { fill: var(--h1); } .h2 { fill: var(--h2); } .h3 { fill: var(--h3); } .h4 { fill: var(--h4); } .h5 { fill: var(--h5); } .h6 { fill: var(--h6); } .h7 { fill: var(--h7); }
.chips { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 6px 0; font-size: 13px; }
.chip { border: 1px solid var(--rule); border-left: 4px solid var(--rule); padding: 1px 8px; border-radius: 3px; text-decoration: none; color: var(--fg); background: var(--panel); }
.chip.sev-critical { border-left-color: var(--bad); } .chip.sev-warning { border-left-color: var(--c-untraced); } .chip.sev-info { border-left-color: var(--c-tunnelPolls); }
.headline { margin: 2px 0; font-variant-numeric: tabular-nums; }
.callout { margin: 6px 0; padding: 4px 8px; border-left: 4px solid var(--c-untraced); background: var(--panel); }
.callout.sev-critical { border-left-color: var(--bad); }
table.facts td.num { text-align: left; }
.heat-scale { font-size: 12px; color: var(--muted); }
.heat-scale .swatch { margin-left: 6px; }
ol.findings { padding-left: 22px; }
.finding { margin: 8px 0 14px; padding: 4px 8px; border-left: 4px solid var(--rule); }
.finding.chosen { background: var(--panel); border-left-color: var(--band-stroke); }
.finding .summary { margin: 2px 0; font-weight: 500; }
.finding .where { margin: 2px 0; font-size: 13px; }
.finding .evidence { margin: 4px 0; padding-left: 18px; font-size: 13px; }
.finding .rec p { margin: 4px 0; }
.sev { text-transform: uppercase; font-size: 11px; font-weight: 700; padding: 1px 5px; border-radius: 2px; border: 1px solid currentColor; }
.sev-critical .sev { color: var(--bad); } .sev-warning .sev { color: var(--c-untraced); } .sev-info .sev { color: var(--c-tunnelPolls); }
.finding.sev-critical { border-left-color: var(--bad); } .finding.sev-warning { border-left-color: var(--c-untraced); }
.cost { font-size: 12px; color: var(--muted); margin-left: 6px; }
svg.whatif { max-width: 100%; height: auto; display: block; margin: 6px 0; }
svg.whatif .grid { stroke: var(--grid); }
svg.whatif .tick, svg.whatif .mlabel { fill: var(--fg); font-size: 11px; }
svg.whatif .measured { stroke: var(--fg); stroke-dasharray: 4 3; }
svg.whatif .whisker { stroke-width: 2; }
.whisker.m-stock { stroke: var(--m-stock); } .whisker.m-threaded { stroke: var(--m-threaded); } .whisker.m-inline { stroke: var(--m-inline); }
.point.m-stock { fill: var(--m-stock); } .point.m-threaded { fill: var(--m-threaded); } .point.m-inline { fill: var(--m-inline); }
#page-errors { border: 2px solid var(--bad); padding: 6px 24px; }
footer { margin-top: 32px; border-top: 1px solid var(--rule); font-size: 12px; color: var(--muted); }
.u-select { background: var(--band); }
@media (max-width: 900px) { .pair { grid-template-columns: 1fr; } }
@media print {
  :root {
    --bg: #ffffff; --fg: #000000; --muted: #444; --grid: #dddddd; --rule: #bbbbbb; --panel: #f2f2f2; --c-idle: #d9d9d9; --c-tunnelPolls: #0072B2;
    --h1: #eff3ff; --h2: #c6dbef; --h3: #9ecae1; --h4: #6baed6; --h5: #4292c6; --h6: #2171b5; --h7: #084594; --bad: #a03000; --link: #000;
    --band: rgba(240, 228, 66, 0.38); --band-stroke: #8a7f00; --m-threaded: #0072B2;
  }
  body { max-width: none; padding: 0; font-size: 11px; }
  nav, .chips, .toolbar button, .toolbar select, .readout, details.licence { display: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section { break-inside: avoid-page; }
  .core-row, .finding, tr { break-inside: avoid; }
  canvas { max-width: 100%; height: auto !important; }
  .scroll { overflow: visible; }
  table { font-size: 9px; }
  th, td { padding: 1px 4px; }
  td.num { white-space: normal; }
  a { text-decoration: none; }
}
`;
