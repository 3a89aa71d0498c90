// ScarSeg's service worker: keeps the app shell, the wasm, the default model and the samples in
// the Cache API, so a second visit downloads only what changed and the app works offline. It only
// ever handles requests to the page's own origin; nothing is sent anywhere.
//
// Every file is asked of the server first, revalidated past the browser's HTTP cache (a
// conditional request: no download when unchanged), so an updated app, manifest or sample is used
// as soon as it is published; the cache answers when the network fails. The one exception is a
// file the page asks for by its sha256 (`?sha256=` in the URL: the model's weights, by the hash
// its manifest gives), which cannot be stale, so the cache answers it first.
const CACHE = "scarseg-v1";
const MODEL = "./models/scarseg-atto-phantom/";
const SHELL = [
  "./",
  "./index.html",
  "./scarseg-web.js",
  "./scarseg-web_bg.wasm",
  "./scarseg-worker.js",
  "./scarseg-worker_bg.wasm",
  "./scarseg-worker_loader.js",
  "./favicon.svg",
  `${MODEL}manifest.json`,
  `${MODEL}MODEL_CARD.md`,
  "./samples/index.json",
];

self.addEventListener("install", (event) => {
  // Revalidated, as the HTTP cache may hold an older copy than the server's; an unchanged file
  // comes from the HTTP cache, not downloaded a second time on the first visit.
  const fresh = (url) => new Request(url, { cache: "no-cache" });
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL.map(fresh));
    // The default model's weights at the URL the worker asks for: by the manifest's sha256.
    const weights = (await (await cache.match(`${MODEL}manifest.json`)).json()).weights;
    const request = fresh(`${MODEL}${weights.file}?sha256=${encodeURIComponent(weights.sha256)}`);
    await cache.add(request);
    await onlyThisCopy(cache, request);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// A file kept by its sha256 replaces the other copies of its path: an older model's weights, or
// the copy without a hash that an earlier version of this worker kept.
async function onlyThisCopy(cache, request) {
  for (const old of await cache.keys(request, { ignoreSearch: true })) {
    if (old.url !== request.url) {
      await cache.delete(old);
    }
  }
}

// The file from the server, revalidated, and stored for when the network fails. By URL, not the
// request: a navigation's request cannot be copied with new options.
function fromNetwork(request) {
  return fetch(request.url, { cache: "no-cache" }).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then(async (cache) => {
        await cache.put(request, copy);
        if (new URL(request.url).searchParams.has("sha256")) {
          await onlyThisCopy(cache, request);
        }
      });
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
  // Offline, any copy of the path: a copy of other weights than the manifest's is refused by the
  // worker's sha256 check with a message, never used.
  const anyCopy = () => caches.match(request, { ignoreSearch: true }).then((hit) => hit || Response.error());
  if (url.searchParams.has("sha256")) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fromNetwork(request).catch(anyCopy)),
    );
  } else {
    event.respondWith(fromNetwork(request).catch(anyCopy));
  }
});
