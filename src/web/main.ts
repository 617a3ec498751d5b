// The page's entry (index.html): reads the query string, builds the app, checks for WebGPU.
//
// Query parameters (all optional):
//   ?weights=<URL>          a folder with weights_manifest.json and its .bin files, or a Keras .h5
//                           file (default weights/vgg19/ beside the page)
//   ?images=<folder URL>    where the example pair is (default /images/)
//   ?rows=64&iterations=5&preset=paper&contentWeight=... any WebSettings field (settings.ts)
//
// window.__app (for the browser tests, harmless otherwise): status(), checkDisplay(), loseDevice().
import { App } from './app.ts';
import { DEFAULT_IMAGES_URL } from './images.ts';
import { DEFAULT_SETTINGS, settingsFromQuery } from './settings.ts';
import { DEFAULT_WEIGHTS_URL } from './weights.ts';

declare global {
  interface Window {
    __app?: App;
  }
}

const query = new URLSearchParams(location.search);
const { settings, problems } = settingsFromQuery(query, DEFAULT_SETTINGS);
const app = new App({
  weightsUrl: query.get('weights') ?? DEFAULT_WEIGHTS_URL,
  imagesUrl: query.get('images') ?? DEFAULT_IMAGES_URL,
  settings,
  rowsGiven: query.has('rows'),
});
window.__app = app;
if (problems.length) app.messages.show('settings', 'Some settings in the address were not applied.', problems.join('; ') + '.', [], 'warning');
app.init().catch((e: unknown) => {
  app.messages.show('error', 'The page could not start.', e instanceof Error ? e.message : String(e));
});
