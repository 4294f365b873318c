// Every request goes through api(): the {code, message, data} envelope becomes a value or an ApiError
// with a readable message. The API key, when the server has one, is kept in localStorage and sent as
// X-API-Key; <img>/<audio> loads carry it through the HttpOnly cookie set by /index?api_key=KEY (API_MS.md §1.4).
import { KEY_STORE } from './vocab.js';
import { state } from './state.js';
import { $, h, say } from './dom.js';
import { openModal } from './dialog.js';

// Server URLs are relative ("/audio/...", "/voice-tasks/..."); anything else is not followed.
export function mediaUrl(url) {
  if (typeof url !== 'string' || !url.startsWith('/') || url.startsWith('//')) return '';
  if (!state.keyInUrls || !storedKey()) return url;
  return url + (url.includes('?') ? '&' : '?') + 'api_key=' + encodeURIComponent(storedKey());
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

// Opening /index?api_key=KEY makes the server set the HttpOnly cookie that <img>/<audio> loads need.
function reloadWithKey(key) {
  sessionStorage.setItem('tts_key_reload', '1');
  location.replace('/index?api_key=' + encodeURIComponent(key));
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
    reloadWithKey(key);
  }, () => { askingKey = false; });
  if (note) say($('modal-msg'), note, 'err');
}

// Returns true when the page may start: no key needed, or the cookie is in place.
export async function settleKey() {
  const params = new URLSearchParams(location.search);
  if (params.has('api_key')) {  // keep it, and take it out of the address bar and history
    localStorage.setItem(KEY_STORE, params.get('api_key'));
    params.delete('api_key');
    history.replaceState(null, '', location.pathname + (params.toString() ? '?' + params : '') + location.hash);
  }
  const probe = await fetch('/voice-categories', { cache: 'no-store' }).catch(() => null);  // cookie only
  $('key-button').hidden = !storedKey();
  if (!probe || probe.status !== 401) { sessionStorage.removeItem('tts_key_reload'); return true; }
  const key = storedKey();
  if (key && await keyAccepted(key)) {
    if (!sessionStorage.getItem('tts_key_reload')) { reloadWithKey(key); return false; }
    state.keyInUrls = true;  // the cookie did not stick (cookies blocked): fall back to ?api_key= on media
    return true;
  }
  askForKey(key ? 'API key 已失效，请重新输入' : '');
  return false;
}

$('key-button').addEventListener('click', () => askForKey(''));
