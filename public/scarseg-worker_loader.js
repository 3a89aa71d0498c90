// Starts the analysis worker: wasm-bindgen's glue, then the wasm. This replaces trunk's loader
// shim, which lets a failed start (a wasm this browser cannot compile, a file missing offline)
// pass in silence as a rejected promise. Thrown again from a timer it is an error event, which
// the page hears: it then says why no analysis runs, instead of "starting..." for ever.
importScripts("./scarseg-worker.js");
wasm_bindgen("./scarseg-worker_bg.wasm").catch((error) => {
  setTimeout(() => {
    throw error;
  });
});
