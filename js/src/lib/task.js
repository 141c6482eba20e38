// Kernel work a view asked for (live probe, generation, sweeps, interventions, statistics on
// demand) reports through one trait, written by the kernel's task runner:
//   _task = {id, name, state: "idle" | "running" | "done" | "error" | "cancelled",
//            progress: null | 0..1, message}
// While a task runs the view shows its message (and a bar when progress is a number) and a
// cancel button; an error shows its message in the view's notice area and leaves the last good
// result on screen. Exported pages have no kernel: `_task` is absent or idle there.
import { h } from "./dom.js";

export const IDLE = Object.freeze({ id: 0, name: "", state: "idle", progress: null, message: "" });
const STATES = new Set(["idle", "running", "done", "error", "cancelled"]);

/** The trait's value, checked: anything malformed or absent reads as idle. */
export function readTask(raw) {
  if (!raw || typeof raw !== "object" || !STATES.has(raw.state)) return IDLE;
  const p = raw.progress;
  return {
    id: Number.isInteger(raw.id) ? raw.id : 0,
    name: typeof raw.name === "string" ? raw.name : "",
    state: raw.state,
    progress: typeof p === "number" && Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : null,
    message: typeof raw.message === "string" ? raw.message : "",
  };
}

/**
 * What a task shows: `text` beside the view's controls, `progress` (a number shows a bar),
 * `cancel` (the button), `error` (for the view's notice area), `busy`.
 */
export function taskDisplay(task) {
  if (task.state === "running") {
    const text = task.message || (task.name ? `${task.name}…` : "working…");
    return { busy: true, text, progress: task.progress, cancel: true, error: "" };
  }
  if (task.state === "error") {
    const error = task.message || `${task.name || "the kernel's task"} failed`;
    return { busy: false, text: "", progress: null, cancel: false, error };
  }
  const text = task.state === "cancelled" ? "cancelled" : "";
  return { busy: false, text, progress: null, cancel: false, error: "" };
}

/**
 * A request that waits for the kernel (the live box's query): it started when `task` was the
 * current one, and ends at the first report that is not "running" and either comes from
 * another task or follows a "running" report. Returns the next state; `ended` says it is over.
 */
export function startRoundTrip(task) {
  return { startId: task.id, sawRunning: false, ended: false };
}

export function advanceRoundTrip(trip, task) {
  if (trip.ended) return trip;
  if (task.state === "running") return { ...trip, sawRunning: true };
  if (trip.sawRunning || task.id !== trip.startId) return { ...trip, ended: true, task };
  return trip;
}

/**
 * The status element of a view: `node` goes beside the controls. Errors go to `errorNode`
 * (the view's notice/error area; default: this element), and leave it when a later report
 * is not an error, unless something else was written there meanwhile. `claimed(task)` says
 * another part of the view shows this task's error itself (the live box shows its own).
 */
export function taskStatus(model, { className = "", errorNode = null, claimed = null } = {}) {
  const message = h("span", { class: "saew-task-message" });
  const bar = h("progress", { class: "saew-task-progress", max: 1, hidden: true });
  const cancel = h(
    "button",
    { class: "saew-task-cancel", type: "button", hidden: true, title: "stop the kernel's work" },
    "cancel",
  );
  const node = h(
    "span",
    { class: `saew-task ${className}`.trim(), role: "status", dataset: { state: "idle" } },
    message,
    bar,
    cancel,
  );
  const errors = errorNode || message;
  let shownError = "";
  let cancelledId = null;

  cancel.addEventListener("click", () => {
    cancelledId = readTask(model.get("_task")).id;
    cancel.disabled = true;
    model.send({ type: "cancel_task" });
  });

  function paint() {
    const task = readTask(model.get("_task"));
    const view = taskDisplay(task);
    node.dataset.state = task.state;
    node.dataset.busy = String(view.busy);
    const error = claimed?.(task) ? "" : view.error;
    if (errors === message) {
      message.textContent = error || view.text;
    } else {
      message.textContent = view.text;
      if (error) errors.textContent = error;
      else if (shownError && errors.textContent === shownError) errors.textContent = "";
    }
    shownError = error;
    bar.hidden = view.progress === null;
    if (view.progress !== null) bar.value = view.progress;
    cancel.hidden = !view.cancel;
    cancel.disabled = view.cancel && task.id === cancelledId;
  }

  model.on("change:_task", paint);
  paint();
  return {
    node,
    paint,
    dispose() {
      model.off("change:_task", paint);
    },
  };
}
