// The API client of the console.
//
// Tokens: the short-lived access token lives only in a variable of this module; the refresh
// token lives in the tab's sessionStorage (scoped to this origin and this tab, gone when the
// tab closes), so a reload keeps the user signed in. No cookie is used, and the browser never
// attaches a Bearer header on its own, so another site cannot make requests as the user.
// A new tab asks the console's other tabs for their session over a BroadcastChannel, which
// only pages of this origin can join; signing out in one tab signs out all (decision 0009).

const REFRESH_SLOT = 'keywarden.refresh';
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('keywarden.session') : null;

let access = null;
let refreshing = null;
let onSignedOut = () => {};

/** An answer of the API that was not 2xx. */
export class ApiError extends Error {
  constructor(status, body) {
    super(messageOf(status, body));
    this.name = 'ApiError';
    this.status = status;
    this.body = body || {};
    this.code = this.body.code && typeof this.body.code === 'string' ? this.body.code : null;
    this.field = typeof this.body.field === 'string' ? this.body.field : null;
  }
}

function messageOf(status, body) {
  if (body) {
    if (typeof body.detail === 'string' && body.detail) {
      // Field errors read "field: what is wrong"; the field is shown next to the input.
      if (typeof body.field === 'string' && body.detail.startsWith(body.field + ': ')) {
        const rest = body.detail.slice(body.field.length + 2);
        return rest.charAt(0).toUpperCase() + rest.slice(1) + (/[.!?]$/.test(rest) ? '' : '.');
      }
      return body.detail;
    }
    if (typeof body.content === 'string') return body.content;
    if (body.message && typeof body.message.content === 'string') return body.message.content;
  }
  if (status === 0) return 'Keywarden cannot be reached. Check your connection and try again.';
  return `The request failed (HTTP ${status}). Try again.`;
}

/**
 * Called when the session ends: the refresh token was refused, or (with 'elsewhere') the
 * person signed out in another tab. The console shows the sign-in page.
 */
export function setSignedOutHandler(handler) {
  onSignedOut = handler;
}

export function hasSession() {
  return access !== null || sessionStorage.getItem(REFRESH_SLOT) !== null;
}

export function signOut() {
  dropSession();
  if (channel) channel.postMessage({ type: 'signed-out' });
}

function dropSession() {
  access = null;
  sessionStorage.removeItem(REFRESH_SLOT);
}

if (channel) {
  channel.addEventListener('message', (event) => {
    const message = event.data || {};
    if (message.type === 'ask') {
      const refresh = sessionStorage.getItem(REFRESH_SLOT);
      if (refresh) channel.postMessage({ type: 'share', refresh });
    } else if (message.type === 'signed-out' && hasSession()) {
      dropSession();
      onSignedOut('elsewhere');
    }
  });
}

/**
 * In a tab without a session, asks the console's other open tabs for theirs. Resolves to
 * true when one shared it, false after `waitMs` without an answer.
 */
export function adoptSession(waitMs = 200) {
  if (!channel || hasSession()) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), waitMs);
    function listen(event) {
      const message = event.data || {};
      if (message.type === 'share' && typeof message.refresh === 'string' && !hasSession()) {
        sessionStorage.setItem(REFRESH_SLOT, message.refresh);
        finish(true);
      }
    }
    function finish(adopted) {
      clearTimeout(timer);
      channel.removeEventListener('message', listen);
      resolve(adopted);
    }
    channel.addEventListener('message', listen);
    channel.postMessage({ type: 'ask' });
  });
}

async function send(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, null);
  }
  let data = null;
  if (response.status !== 204) {
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { detail: text };
      }
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Signs in. Throws an ApiError whose code is `otp_required` or `otp_invalid` for 2FA users. */
export async function signIn(email, password, otp) {
  const body = { email, password };
  if (otp) body.otp = otp;
  const pair = await send('POST', '/v1/auth/token/', body);
  access = pair.access;
  sessionStorage.setItem(REFRESH_SLOT, pair.refresh);
}

async function refreshAccess() {
  const refresh = sessionStorage.getItem(REFRESH_SLOT);
  if (!refresh) return false;
  try {
    const answer = await send('POST', '/v1/auth/token/refresh/', { refresh });
    access = answer.access;
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      // The shared refresh token is refused: every tab's session has ended.
      signOut();
      return false;
    }
    throw error;
  }
}

/** One request with the console's access token; renews it once when it has expired. */
export async function request(method, path, body) {
  if (access === null) {
    refreshing = refreshing || refreshAccess().finally(() => { refreshing = null; });
    if (!(await refreshing)) {
      onSignedOut();
      throw new ApiError(401, { detail: 'Your session has ended. Sign in again.', code: 'token_not_valid' });
    }
  }
  try {
    return await send(method, path, body, access);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && error.code === 'token_not_valid') {
      access = null;
      refreshing = refreshing || refreshAccess().finally(() => { refreshing = null; });
      if (await refreshing) return send(method, path, body, access);
      onSignedOut();
    }
    throw error;
  }
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = (path) => request('DELETE', path);

/** `?a=1&b=2` from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
