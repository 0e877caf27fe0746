// The Web UI path, as a person takes it: open the Temporal Web UI of the local stack,
// find a schedule made as the worker makes user-automation (paused), unpause it
// through the UI's own dialog, then check through the API that it is unpaused, and
// that a triggered run shows its progress on its page while it runs (the ticks in
// its timeline, its summary and Current Details under User Metadata) and completes.
//
// Run by `make test` (scripts/e2e.sh), which starts the stack and the workers,
// creates a schedule of the test's own, paused, deletes it afterwards, and passes:
//   TEMPORAL_SCHEDULE_ID  the schedule     TEMPORAL_BIN  the temporal CLI
//   TEMPORAL_UI           the Web UI       CHROMIUM      the browser to drive
//   SCREENSHOTS           where to leave screenshots of each step
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { chromium } = require('playwright-core');

const scheduleID = process.env.TEMPORAL_SCHEDULE_ID || 'user-automation';
const ui = process.env.TEMPORAL_UI || 'http://localhost:8233';
const shots = process.env.SCREENSHOTS || '.';

function temporal(...args) {
  return execFileSync(process.env.TEMPORAL_BIN, args, { encoding: 'utf8' });
}

function describeSchedule() {
  return JSON.parse(temporal('schedule', 'describe', '--schedule-id', scheduleID, '--output', 'json'));
}

async function eventually(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('unpause a schedule in the Web UI, then a triggered run completes', async (t) => {
  assert.equal(describeSchedule().schedule.state.paused, true, 'the schedule is created paused');

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });

  await page.goto(`${ui}/namespaces/default/schedules/${scheduleID}`);
  await page.getByRole('heading', { name: scheduleID }).waitFor();
  await page.getByText('Paused', { exact: true }).waitFor();
  await page.getByText('unpause', { exact: false }).first().waitFor(); // the note says how
  await page.screenshot({ path: path.join(shots, 'webui-1-paused.png') });

  await page.getByRole('button', { name: 'Unpause', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText('Unpause Schedule?').waitFor();
  const confirm = dialog.getByRole('button', { name: 'Unpause', exact: true });
  assert.equal(await confirm.isDisabled(), true, 'the dialog asks for a reason first');
  await dialog.getByRole('textbox').fill('browser test: unpaused through the Web UI');
  await page.screenshot({ path: path.join(shots, 'webui-2-dialog.png') });
  await confirm.click();
  await dialog.waitFor({ state: 'hidden' });
  await page.getByText('Running', { exact: true }).waitFor();
  await page.screenshot({ path: path.join(shots, 'webui-3-running.png') });

  // Through the API: unpaused, with the reason typed in the dialog.
  const state = describeSchedule().schedule.state;
  assert.ok(!state.paused, 'the API sees the schedule unpaused');
  assert.match(state.notes, /browser test: unpaused through the Web UI/);

  // A triggered run starts and completes.
  temporal('schedule', 'trigger', '--schedule-id', scheduleID);
  const workflowID = await eventually('the triggered run to start', () => {
    const actions = describeSchedule().info.recentActions || [];
    return actions.length > 0 && actions[actions.length - 1].startWorkflowResult.workflowId;
  }, 30_000);
  // While it runs, its page shows its progress: each tick is labelled "tick k of 10"
  // in the timeline of its event history, the waits "wait for tick k".
  await page.goto(`${ui}/namespaces/default/workflows/${encodeURIComponent(workflowID)}`);
  await page.getByText(/tick \d+ of 10/).first().waitFor({ timeout: 30_000 });
  await page.getByText(/wait for tick \d+/).first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(shots, 'webui-4-progress.png') });
  // Its User Metadata tab tells the run's story: the summary the schedule gave it,
  // and the live Current Details the workflow keeps.
  await page.getByRole('tab', { name: 'User Metadata' }).click();
  // The UI renders both as markdown, each in a frame of its own.
  const inAFrame = (re) => eventually(`${re} in the User Metadata tab`, async () => {
    for (const f of page.frames()) {
      const text = await f.locator('body').innerText().catch(() => '');
      if (re.test(text)) return text;
    }
    return null;
  }, 30_000);
  await inAFrame(/daily: users: 2 records every 1s for 10s \(10 ticks\) to users_created/);
  await page.getByText('Current Details').waitFor();
  await inAFrame(/Tick \d+ of 10 · \d+ users published \(randomuser \d+, faker \d+\)/);
  await page.screenshot({ path: path.join(shots, 'webui-5-current-details.png') });

  const status = await eventually('the triggered run to end', () => {
    const d = JSON.parse(temporal('workflow', 'describe', '--workflow-id', workflowID, '--output', 'json'));
    const s = d.workflowExecutionInfo.status;
    return s !== 'WORKFLOW_EXECUTION_STATUS_RUNNING' && s;
  }, 120_000);
  assert.equal(status, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');
});
