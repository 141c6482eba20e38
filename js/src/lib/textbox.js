// The live text box: typed text goes to the kernel as the `query` trait; the answer arrives as
// `_probe` (or `_probe_error`), then `_answered` is bumped. Pages without a kernel show the box
// disabled, saying why.
import { h } from "./dom.js";
import { busyMarker } from "./status.js";

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
  const busy = busyMarker(status, "running the model…");
  const form = h("form", { class: "saew-textbox" }, input, run, status);
  let pending = false;
  const submit = () => {
    const text = input.value;
    if (!text.trim()) {
      busy.done("type some text first");
      return;
    }
    if (text === model.get("query") && !pending) {
      onResult(); // same text as the last run: its result is already here
      return;
    }
    pending = true;
    busy.start();
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
  // The kernel bumps `_answered` after `_probe` / `_probe_error`, so both are current here.
  const onAnswer = () => {
    pending = false;
    busy.done(model.get("_probe_error") || "");
    onResult();
  };
  model.on("change:_answered", onAnswer);
  if (model.get("query")) input.value = model.get("query");
  return {
    node: form,
    dispose() {
      model.off("change:_answered", onAnswer);
    },
  };
}
