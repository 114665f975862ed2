// Mocha reporter: the usual spec output, plus the run's counts appended as one JSON line
// to $RPELAB_TEST_SUMMARY (scripts/test.sh sums them over backends into one closing line).
'use strict';
const fs = require('fs');
const Spec = require('mocha/lib/reporters/spec');

class SummaryReporter extends Spec {
  constructor(runner, options) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    runner.on('pass', () => counts.passed++);
    runner.on('fail', () => counts.failed++);
    runner.on('pending', () => counts.skipped++);
    runner.once('end', () => {
      const file = process.env.RPELAB_TEST_SUMMARY;
      if (file) fs.appendFileSync(file, JSON.stringify({ backend: process.env.RPELAB_BACKEND || 'auto', ...counts }) + '\n');
    });
  }
}
module.exports = SummaryReporter;
