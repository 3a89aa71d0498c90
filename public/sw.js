// ScarSeg's service worker: keeps the app shell, the wasm, the default model and the samples in
// the Cache API, so a second visit starts without downloading and the app works offline. It only
// ever handles requests to the page's own origin; nothing is sent anywhere.
const CACHE = "scarseg-v1";
const SHELL = [
  "./",
  "./index.html",
  "./scarseg-web.js",
  "./scarseg-web_bg.wasm",
  "./scarseg-worker.js",
  "./scarseg-worker_bg.wasm",
  "./scarseg-worker_loader.js",
  "./models/scarseg-atto-phantom/manifest.json",
  "./models/scarseg-atto-phantom/weights.safetensors",
  "./models/scarseg-atto-phantom/MODEL_CARD.md",
  "./samples/index.json",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// Models and samples: cache first (the worker checks the weights' sha256 against the manifest,
// so a stale or corrupt copy is caught). Everything else: network first (an update is picked up
// when online), the cache when the network fails. What was fetched is stored for next time.
function fromNetwork(request) {
  return fetch(request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) {
    return;
  }
  const cached = () => caches.match(request, { ignoreSearch: true });
  if (url.pathname.includes("/models/") || url.pathname.includes("/samples/")) {
    event.respondWith(cached().then((hit) => hit || fromNetwork(request)));
  } else {
    event.respondWith(
      fromNetwork(request).catch(() => cached().then((hit) => hit || Response.error())),
    );
  }
});
