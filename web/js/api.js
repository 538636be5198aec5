// The API client: JSON over fetch to the gateway's /api/v1, problem+json errors as ApiError,
// and one refresh of the session when an access token is refused.
import { session } from "./session.js";

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, detail, retryAfterS, errors) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.retryAfterS = retryAfterS;
    this.errors = errors || [];
  }
}

async function problem(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: described by the status alone
  }
  const retry = Number(response.headers.get("Retry-After")) || null;
  const fields = (body.errors || []).map((e) => `${(e.loc || []).slice(-1)[0]}: ${e.msg}`);
  const detail = [body.detail || body.title || `The server answered ${response.status}`, ...fields]
    .filter(Boolean)
    .join(" — ");
  return new ApiError(response.status, detail, retry, body.errors);
}

export async function request(method, path, { body, auth = true, form, upload } = {}) {
  const send = async () => {
    const headers = { Accept: "application/json" };
    if (auth && session.accessToken) headers.Authorization = `Bearer ${session.accessToken}`;
    let payload;
    if (upload) {
      payload = upload; // FormData: the browser writes the multipart Content-Type itself
    } else if (form) {
      payload = new URLSearchParams(form);
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    return fetch(API + path, { method, headers, body: payload });
  };
  let response;
  try {
    response = await send();
  } catch {
    throw new ApiError(0, "The server cannot be reached; check your connection.", null);
  }
  if (response.status === 401 && auth && session.signedIn && (await session.refresh())) {
    response = await send();
  }
  if (response.status === 401 && auth && session.signedIn) {
    session.ended("Your session has ended; please sign in again.");
  }
  if (!response.ok) throw await problem(response);
  if (response.status === 204 || response.status === 304) return null;
  const text = await response.text(); // a 202 may carry nothing
  return text ? JSON.parse(text) : null;
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, body, options) => request("POST", path, { ...options, body });
export const put = (path, body, options) => request("PUT", path, { ...options, body });
export const patch = (path, body, options) => request("PATCH", path, { ...options, body });
export const del = (path, options) => request("DELETE", path, options);

export function query(params) {
  const kept = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return kept.length ? `?${new URLSearchParams(kept)}` : "";
}
