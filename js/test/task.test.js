import assert from "node:assert/strict";
import { test } from "node:test";
import { advanceRoundTrip, IDLE, readTask, startRoundTrip, taskDisplay } from "../src/lib/task.js";

const task = (state, extra = {}) => ({
  id: 1,
  name: "probe",
  state,
  progress: null,
  message: "",
  ...extra,
});

test("an absent or malformed _task reads as idle (exported pages have none)", () => {
  assert.equal(readTask(undefined), IDLE);
  assert.equal(readTask({}), IDLE);
  assert.equal(readTask({ state: "sleeping" }), IDLE);
  assert.equal(readTask("running"), IDLE);
  assert.deepEqual(readTask({ state: "running" }), {
    id: 0,
    name: "",
    state: "running",
    progress: null,
    message: "",
  });
});

test("progress is a number in 0..1 or null", () => {
  assert.equal(readTask(task("running", { progress: 0.25 })).progress, 0.25);
  assert.equal(readTask(task("running", { progress: 1.7 })).progress, 1);
  assert.equal(readTask(task("running", { progress: -1 })).progress, 0);
  assert.equal(readTask(task("running", { progress: Number.NaN })).progress, null);
  assert.equal(readTask(task("running", { progress: "50%" })).progress, null);
});

test("what each state shows", () => {
  const running = taskDisplay(readTask(task("running", { message: "generating", progress: 0.5 })));
  assert.deepEqual(running, {
    busy: true,
    text: "generating",
    progress: 0.5,
    cancel: true,
    error: "",
  });
  assert.equal(taskDisplay(readTask(task("running"))).text, "probe…");
  assert.equal(taskDisplay(readTask({ state: "running" })).text, "working…");
  const failed = taskDisplay(readTask(task("error", { message: "the text is too long" })));
  assert.deepEqual(failed, {
    busy: false,
    text: "",
    progress: null,
    cancel: false,
    error: "the text is too long",
  });
  assert.equal(taskDisplay(readTask(task("error"))).error, "probe failed");
  assert.equal(taskDisplay(readTask(task("cancelled"))).text, "cancelled");
  for (const state of ["idle", "done"]) {
    assert.deepEqual(taskDisplay(readTask(task(state, { message: "finished" }))), {
      busy: false,
      text: "",
      progress: null,
      cancel: false,
      error: "",
    });
  }
});

test("a round trip ends at its own task's outcome, not at an older report", () => {
  let trip = startRoundTrip(readTask(task("done", { id: 3 })));
  trip = advanceRoundTrip(trip, readTask(task("done", { id: 3 }))); // the old task, repeated
  assert.equal(trip.ended, false);
  trip = advanceRoundTrip(trip, readTask(task("running", { id: 4 })));
  assert.equal(trip.ended, false);
  trip = advanceRoundTrip(trip, readTask(task("running", { id: 4, progress: 0.5 })));
  assert.equal(trip.ended, false);
  trip = advanceRoundTrip(trip, readTask(task("error", { id: 4, message: "boom" })));
  assert.equal(trip.ended, true);
  assert.equal(trip.task.message, "boom");
  // once ended it stays ended
  assert.equal(advanceRoundTrip(trip, readTask(task("running", { id: 5 }))), trip);
});

test("a round trip also ends on a new task seen only when finished, or after running", () => {
  const fromIdle = startRoundTrip(IDLE);
  assert.equal(advanceRoundTrip(fromIdle, readTask(task("done", { id: 1 }))).ended, true);
  // a runner that reuses the id: the report after a running one ends it
  let trip = startRoundTrip(readTask(task("done", { id: 2 })));
  trip = advanceRoundTrip(trip, readTask(task("running", { id: 2 })));
  assert.equal(advanceRoundTrip(trip, readTask(task("cancelled", { id: 2 }))).ended, true);
});
