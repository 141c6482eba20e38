// The prompt and the generation settings; each edit is saved to its trait (the kernel reruns).
import { h } from "../lib/dom.js";
import { applyOnEnter } from "../lib/keys.js";
import { APPLY_TO } from "./state.js";

export function settings(model, { off, offTitle }) {
  const save = (trait, value) => {
    model.set(trait, value);
    model.save_changes();
  };
  const prompt = h("textarea", {
    class: "saew-steer-prompt",
    rows: 2,
    "aria-label": "prompt",
    placeholder: "prompt (Enter to run, Shift+Enter for a new line)",
    disabled: off,
    title: offTitle,
  });
  prompt.value = model.get("prompt");
  const number = (cls, trait, attrs) => {
    const input = h("input", {
      class: cls,
      type: "number",
      disabled: off,
      title: offTitle,
      ...attrs,
    });
    input.value = model.get(trait);
    input.addEventListener("change", () => {
      const value = Number(input.value);
      // "" is what a number input holds while its text is not a number (not 0)
      if (input.value !== "" && Number.isFinite(value)) save(trait, value);
    });
    return applyOnEnter(input);
  };
  const maxTokens = number("saew-steer-max", "max_new_tokens", {
    min: 1,
    max: 512,
    step: 1,
    "aria-label": "max new tokens",
  });
  const temperature = number("saew-steer-temp", "temperature", {
    min: 0,
    max: 5,
    step: 0.1,
    "aria-label": "temperature",
  });
  const seed = number("saew-steer-seed", "seed", { min: 0, step: 1, "aria-label": "seed" });
  const chat = h("input", {
    class: "saew-steer-chat",
    type: "checkbox",
    disabled: off,
    checked: model.get("chat") || undefined,
  });
  const applyTo = h(
    "select",
    { class: "saew-steer-apply", "aria-label": "apply edits to", disabled: off },
    APPLY_TO.map(([value, text]) => h("option", { value }, text)),
  );
  applyTo.value = model.get("apply_to");

  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      prompt.blur();
    }
  });
  prompt.addEventListener("change", () => save("prompt", prompt.value));
  chat.addEventListener("change", () => save("chat", chat.checked));
  applyTo.addEventListener("change", () => save("apply_to", applyTo.value));

  const node = h(
    "div",
    { class: "saew-controls saew-steer-settings" },
    h("label", {}, "max tokens ", maxTokens),
    h("label", {}, "temperature ", temperature),
    h("label", {}, "seed ", seed),
    h("label", {}, chat, " chat template"),
    h("label", {}, "edit ", applyTo),
  );
  return {
    head: h("div", { class: "saew-steer-head" }, prompt),
    node,
    /** The prompt trait changed: show it unless the user is typing there. */
    syncPrompt() {
      if (document.activeElement !== prompt) prompt.value = model.get("prompt");
    },
  };
}
