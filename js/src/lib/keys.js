// Keys typed in a widget belong to the widget. Inside JupyterLab and Notebook 7 a notebook's
// shortcuts ("a", "b", "m", "d d", arrows...) would otherwise act on the cells while a control of
// ours has the focus, and the application's keydown handler cancels the `beforeinput` of Enter
// inside a cell, which is what makes a browser apply a single-line input on Enter.

/**
 * Keep keyboard events inside `root`. Key events stop at the root (JupyterLab listens in the
 * bubble phase). Notebook 7 listens in the capture phase, before us: there Lumino's matcher walks
 * from the event's target up and gives up at an element marked `data-lm-suppress-shortcuts`,
 * but it tests the target itself first (shortcut selectors end in `:focus`), so every element
 * of ours that takes the focus gets the mark. And the line-break `beforeinput` of Enter /
 * Shift+Enter stops at the root before the application's guard on the target can cancel it.
 */
export function ownKeys(root) {
  const mark = (node) => node.setAttribute("data-lm-suppress-shortcuts", "true");
  mark(root);
  root.addEventListener("focusin", (event) => {
    if (event.target instanceof Element) mark(event.target);
  });
  const stop = (event) => event.stopPropagation();
  for (const type of ["keydown", "keyup", "keypress"]) root.addEventListener(type, stop);
  root.addEventListener(
    "beforeinput",
    (event) => {
      if (event.inputType === "insertLineBreak" || event.inputType === "insertParagraph")
        stop(event);
    },
    true,
  );
  return root;
}

/**
 * Enter in a single-line `input` applies it: a `change` event, as blur or Tab would send,
 * whatever the page around it does with Enter.
 */
export function applyOnEnter(input) {
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing) return;
    if (event.shiftKey || event.ctrlKey || event.altKey || event.metaKey) return;
    event.preventDefault();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });
  return input;
}
