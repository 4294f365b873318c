// Every request goes through api(): the {code, message, data} envelope becomes a value or an ApiError
// with a readable message. The API key, when the server has one, travels in the HttpOnly cookie the
// server sets (on /index?api_key=KEY, which then redirects to plain /index, or on GET /index with the
// key as X-API-Key); a key typed into the page is also kept in localStorage and sent as X-API-Key.
// The key never goes into a URL: URLs end up in histories, logs and Referer headers (API_MS.md §1.4).
import { KEY_STORE } from './vocab.js';
import { $, h, say, toast } from './dom.js';
import { openModal } from './dialog.js';

// Server URLs are relative ("/audio/...", "/voice-tasks/..."); anything else is not followed.
// <img>/<audio> loads carry the key through the cookie.
export function mediaUrl(url) {
  if (typeof url !== 'string' || !url.startsWith('/') || url.startsWith('//')) return '';
  return url;
}

export class ApiError extends Error {}

function storedKey() { return localStorage.getItem(KEY_STORE) || ''; }

export async function api(method, path, body) {
  const init = { method, headers: {}, cache: 'no-store' };
  if (storedKey()) init.headers['X-API-Key'] = storedKey();
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) { init.body = JSON.stringify(body); init.headers['Content-Type'] = 'application/json'; }
  let response;
  try { response = await fetch(path, init); } catch (err) { throw new ApiError('无法连接服务器，请检查服务是否在运行'); }
  if (response.status === 401) { askForKey(storedKey() ? 'API key 无效，请重新输入' : ''); throw new ApiError('需要 API key'); }
  if (!(response.headers.get('content-type') || '').includes('json')) {
    if (!response.ok) throw new ApiError(`请求失败（HTTP ${response.status}）`);
    return response;  // audio
  }
  let envelope;
  try { envelope = await response.json(); } catch (err) { throw new ApiError(`服务器返回了无法解析的内容（HTTP ${response.status}）`); }
  if (envelope.code !== 0) throw new ApiError(envelope.message || `请求失败（code ${envelope.code}，HTTP ${response.status}）`);
  return envelope.data;
}

async function keyAccepted(key) {
  const response = await fetch('/voice-categories', { headers: { 'X-API-Key': key }, cache: 'no-store' }).catch(() => null);
  return !!response && response.status !== 401;
}

// The server keeps a key it receives as a header on /index in its HttpOnly cookie, which the
// <img>/<audio> loads need.
async function storeInCookie(key) {
  await fetch('/index', { headers: { 'X-API-Key': key }, cache: 'no-store' }).catch(() => null);
}

async function cookieCarriesKey() {
  const probe = await fetch('/voice-categories', { cache: 'no-store' }).catch(() => null);  // cookie only
  return !probe || probe.status !== 401;
}

let askingKey = false;
function askForKey(note) {
  if (askingKey) return;
  askingKey = true;
  $('key-button').hidden = false;  // to come back to this dialog after closing it
  const input = h('input', { type: 'password', autocomplete: 'off', placeholder: 'API key' });
  const body = [h('p', { class: 'muted', text: '服务器设置了 API key。输入一次后保存在本浏览器中。' }), input];
  openModal('请输入 API key', body, async () => {
    const key = input.value.trim();
    if (!key) throw new ApiError('请填写 API key');
    if (!(await keyAccepted(key))) throw new ApiError('API key 不正确');
    localStorage.setItem(KEY_STORE, key);
    await storeInCookie(key);
    location.reload();
  }, () => { askingKey = false; });
  if (note) say($('modal-msg'), note, 'err');
}

// Returns true when the page may start: no key needed, or the key is in place.
export async function settleKey() {
  $('key-button').hidden = !storedKey();
  if (await cookieCarriesKey()) return true;
  const key = storedKey();
  if (key && await keyAccepted(key)) {
    await storeInCookie(key);
    // cookies refused: requests still carry X-API-Key, but avatars and clips cannot load
    if (!(await cookieCarriesKey())) toast('浏览器未保存 Cookie：头像和音频无法加载，请允许本站的 Cookie', 'err');
    return true;
  }
  askForKey(key ? 'API key 已失效，请重新输入' : '');
  return false;
}

$('key-button').addEventListener('click', () => askForKey(''));
