// A small browser client for the infrakit.pubsub wire protocol (docs/pubsub-protocol.md).
//
//   const client = new PubSubClient("ws://127.0.0.1:8765", { token: "..." });
//   client.subscribe("room:42", (message) => console.log(message.event, message.data));
//   await client.publish("room:42", "said", { text: "hi" });
//
// It reconnects with backoff and resubscribes with `since` (the last seq seen per
// channel), so messages missed while away arrive in order; a `gap` calls onGap.
// Messages that ask for an acknowledgement (they carry an id) are acknowledged.

class PubSubClient {
  constructor(url, { token = null, onGap = () => {}, onPresence = () => {} } = {}) {
    this.url = url;
    this.token = token;
    this.onGap = onGap;
    this.onPresence = onPresence;
    this.handlers = new Map(); // channel -> callback
    this.lastSeq = new Map(); // channel -> last seq seen
    this.pending = new Map(); // command id -> {resolve, reject}
    this.seenAcks = new Set();
    this.nextId = 1;
    this.backoff = 250;
    this.connect();
  }

  connect() {
    const protocols = this.token ? ["infrakit.bearer", this.token] : [];
    this.socket = new WebSocket(this.url, protocols);
    this.ready = new Promise((resolve) => this.socket.addEventListener("open", resolve));
    this.socket.addEventListener("open", () => {
      this.backoff = 250;
      for (const channel of this.handlers.keys()) this.sendSubscribe(channel);
    });
    this.socket.addEventListener("message", (event) => this.receive(JSON.parse(event.data)));
    this.socket.addEventListener("close", () => {
      for (const { reject } of this.pending.values()) reject(new Error("connection closed"));
      this.pending.clear();
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    });
  }

  async command(envelope) {
    await this.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ ...envelope, id }));
    });
  }

  receive(envelope) {
    const waiting = envelope.id !== undefined && envelope.type !== "message"
      ? this.pending.get(envelope.id) : undefined;
    if (waiting) {
      this.pending.delete(envelope.id);
      if (envelope.type === "error") waiting.reject(Object.assign(new Error(envelope.message), { code: envelope.code }));
      else waiting.resolve(envelope);
      return;
    }
    if (envelope.type === "message") return this.deliver(envelope);
    if (envelope.type === "presence") return this.onPresence(envelope);
    if (envelope.type === "gap") return this.onGap(envelope.channel);
  }

  deliver(message) {
    if (message.id !== undefined) {
      this.socket.send(JSON.stringify({ type: "ack", id: message.id }));
      if (this.seenAcks.has(message.id)) return; // a resend we already handled
      this.seenAcks.add(message.id);
    }
    const last = this.lastSeq.get(message.channel) ?? 0;
    if (message.seq <= last) return; // already seen
    this.lastSeq.set(message.channel, message.seq);
    const handler = this.handlers.get(message.channel);
    if (handler) handler(message);
  }

  sendSubscribe(channel) {
    const since = this.lastSeq.get(channel);
    return this.command({ type: "subscribe", channel, ...(since !== undefined ? { since } : {}) });
  }

  subscribe(channel, handler) {
    this.handlers.set(channel, handler);
    return this.sendSubscribe(channel);
  }

  unsubscribe(channel) {
    this.handlers.delete(channel);
    return this.command({ type: "unsubscribe", channel });
  }

  publish(channel, event, data) {
    return this.command({ type: "publish", channel, event, data });
  }
}

if (typeof module !== "undefined") module.exports = { PubSubClient };
