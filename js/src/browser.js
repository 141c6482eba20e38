// FeatureBrowser (esbuild entry): the view lives in browser/.
import { render } from "./browser/view.js";

export { render };
export default { render };
