// GraphView (esbuild entry): the view lives in graphview/.
import { render } from "./graphview/view.js";

export { render };
export default { render };
