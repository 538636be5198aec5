// Notifications as they arrive: the gateway's server-sent event stream, read with fetch so
// the access token goes in a header (EventSource cannot send one). Reconnects after a drop,
// resuming from the last event id.
import { session } from "./session.js";

export class LiveNotifications extends EventTarget {
  constructor() {
    super();
    this.controller = null;
    this.lastId = null;
  }

  start() {
    this.stop();
    this.controller = new AbortController();
    this._run(this.controller.signal);
  }

  stop() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  async _run(signal) {
    while (!signal.aborted && session.signedIn) {
      try {
        await this._read(signal);
      } catch {
        // dropped: try again shortly
      }
      if (signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }

  async _read(signal) {
    const headers = { Accept: "text/event-stream", Authorization: `Bearer ${session.accessToken}` };
    if (this.lastId) headers["Last-Event-ID"] = this.lastId;
    const response = await fetch("/api/v1/notifications/stream", { headers, signal });
    if (response.status === 401) {
      await session.refresh();
      return;
    }
    if (!response.ok || !response.body) return;
    this.dispatchEvent(new Event("open"));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        this._event(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  _event(block) {
    let id = null;
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("id: ")) id = line.slice(4);
      else if (line.startsWith("event: ")) type = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (type !== "notification" || !data.length) return;
    if (id) this.lastId = id;
    this.dispatchEvent(new CustomEvent("notification", { detail: JSON.parse(data.join("\n")) }));
  }
}
