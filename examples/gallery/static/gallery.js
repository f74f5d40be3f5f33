// The gallery page: uploads with fetch, lists the items, and shows new ones as the
// `gallery` pub/sub channel announces them (protocol: docs/pubsub-protocol.md).

const gallery = document.getElementById("gallery");
const statusLine = document.getElementById("status");
const form = document.getElementById("upload-form");
const fileInput = document.getElementById("file-input");
const uploadButton = document.getElementById("upload-button");
const uploadError = document.getElementById("upload-error");

const items = new Map(); // id -> the state shown, from the listing or a message

// Show `item`, unless it is already shown as ready or failed, which is final
// (messages and the listing may arrive in any order).
function show(item) {
  const known = items.get(item.id);
  if (known && known.status !== "processing") return;
  items.set(item.id, item);
  let entry = gallery.querySelector(`li.item[data-id="${CSS.escape(item.id)}"]`);
  if (!entry) {
    entry = document.createElement("li");
    entry.className = "item";
    entry.dataset.id = item.id;
    gallery.prepend(entry);
  }
  entry.dataset.status = item.status;
  const parts = [];
  if (item.thumbnail_url) {
    const image = document.createElement("img");
    image.className = "thumbnail";
    image.src = item.thumbnail_url;
    image.alt = item.name;
    parts.push(image);
  }
  const caption = document.createElement("span");
  caption.textContent = item.status === "ready" ? item.name : `${item.name} (${item.status})`;
  parts.push(caption);
  entry.replaceChildren(...parts);
}

async function loadListing() {
  const response = await fetch("/api/items");
  if (!response.ok) return;
  const { items: listed } = await response.json();
  for (const item of listed.reverse()) show(item); // oldest first: the newest ends on top
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  uploadError.textContent = "";
  const file = fileInput.files[0];
  if (!file) {
    uploadError.textContent = "Choose a picture or a video first.";
    return;
  }
  uploadButton.disabled = true;
  try {
    const response = await fetch(`/api/uploads?name=${encodeURIComponent(file.name)}`, {
      method: "PUT",
      body: file,
    });
    const body = await response.json();
    if (!response.ok) {
      uploadError.textContent = body.detail || body.title || `Upload failed (${response.status}).`;
      return;
    }
    show(body);
    form.reset();
  } catch (error) {
    uploadError.textContent = `Upload failed: ${error.message}`;
  } finally {
    uploadButton.disabled = false;
  }
});

// Subscribe to `gallery`; after every (re)connection reload the listing, so nothing
// announced while we were away is missed.
function connect(delay = 250) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({ type: "subscribe", id: 1, channel: "gallery" }));
  });
  socket.addEventListener("message", (event) => {
    const envelope = JSON.parse(event.data);
    if (envelope.type === "subscribe") {
      statusLine.textContent = "live";
      delay = 250;
      loadListing();
    } else if (envelope.type === "message") {
      show(envelope.data);
    }
  });
  socket.addEventListener("close", () => {
    statusLine.textContent = "offline, reconnecting";
    setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
  });
}

loadListing();
connect();
