// Mocha's spec reporter, plus a line of counts appended to $OMS_TEST_COUNTS so test/run.sh can
// print one plain "N passed, N failed" summary over all phases (CI reads only that line).
'use strict';
const Mocha = require('mocha');
const { appendFileSync } = require('node:fs');

class CountingSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats || {};
      if (process.env.OMS_TEST_COUNTS) appendFileSync(process.env.OMS_TEST_COUNTS, `${s.passes || 0} ${s.failures || 0} ${s.pending || 0}\n`);
    });
  }
}
module.exports = CountingSpec;
