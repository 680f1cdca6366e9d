// .ci/run runs `npm test` before its apt-get line installs chromium and imagemagick, so on a
// fresh CI machine the browser test of `wgtrace report` would only be skipped there; the live
// run comes after the install and runs it here. It needs no root, namespace or probe, and does
// not depend on the bpftrace version, so it runs once: in the pass with the machine's own
// bpftrace (WGTRACE_BPFTRACE unset or `bpftrace`), not again for each chroot version.
const bt = process.env['WGTRACE_BPFTRACE'];
if (bt === undefined || bt === 'bpftrace') await import('../unit/report-browser.test.js');
else {
  const { describe, it } = await import('vitest');
  describe('wgtrace report in chromium', () => it.skip(`run once, in the pass with the machine's bpftrace (this pass: ${bt})`, () => undefined));
}
