// FeatureDashboard (esbuild entry): the view lives in dashboard/.
import { render } from "./dashboard/view.js";

export { render };
export default { render };
