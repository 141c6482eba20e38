// The live text box: typed text goes to the kernel as the `query` trait; the answer arrives as
// `_probe`, and the round trip ends when `_task` reports the query's task as no longer running
// (an error leaves the last good result on screen and shows its message here). Pages without
// a kernel show the box disabled, saying why.
import { h } from "./dom.js";
import { advanceRoundTrip, readTask, startRoundTrip, taskDisplay } from "./task.js";

export function liveTextBox(model, { placeholder, onResult }) {
  const live = model.get("_live");
  const input = h("textarea", {
    class: "saew-query",
    rows: 2,
    placeholder: live ? placeholder : "typing text needs a running Python kernel",
    "aria-label": "text to run through the model",
    disabled: !live,
  });
  const run = h("button", { class: "saew-run", type: "submit", disabled: !live }, "Run");
  const status = h("span", { class: "saew-notice saew-probe-status", role: "status" });
  const form = h("form", { class: "saew-textbox" }, input, run, status);
  let trip = null; // the query in flight
  let endedId = null; // the task that ended the last one
  const show = (text, busy) => {
    status.textContent = text;
    status.dataset.busy = busy ? "true" : "false";
  };
  const submit = () => {
    const text = input.value;
    if (!text.trim()) {
      show("type some text first", false);
      return;
    }
    if (text === model.get("query") && !trip) {
      onResult(); // same text as the last run: its result is already here
      return;
    }
    trip = startRoundTrip(readTask(model.get("_task")));
    show("running the model…", true);
    model.set("query", text);
    model.save_changes();
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      submit();
    }
  });
  const onTask = () => {
    if (!trip) return;
    trip = advanceRoundTrip(trip, readTask(model.get("_task")));
    if (!trip.ended) return;
    const { task } = trip;
    trip = null;
    endedId = task.id;
    const view = taskDisplay(task);
    show(view.error || view.text, false);
    onResult();
  };
  model.on("change:_task", onTask);
  model.on("change:_probe", onResult);
  if (model.get("query")) input.value = model.get("query");
  return {
    node: form,
    /** True for a task whose outcome this box shows itself (its own query's). */
    claims: (task) => trip !== null || task.id === endedId,
    dispose() {
      model.off("change:_task", onTask);
      model.off("change:_probe", onResult);
    },
  };
}
