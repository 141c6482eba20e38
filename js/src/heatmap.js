// TokenHeatmap (esbuild entry): the view lives in heatmap/.
import { render } from "./heatmap/view.js";

export { render };
export default { render };
