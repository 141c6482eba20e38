// Kernel round-trips: a busy marker set when a request leaves and cleared when its answer lands.
export function busyMarker(node, busyText) {
  return {
    start() {
      node.textContent = busyText;
      node.dataset.busy = "true";
    },
    done(message = "") {
      node.textContent = message;
      node.dataset.busy = "false";
    },
  };
}
