// SteeringPanel (esbuild entry): the view lives in steering/.
import { render } from "./steering/view.js";

export { render };
export default { render };
