// DOM helpers: text only, never HTML. Every value from the server reaches the page through h()
// (textContent / setAttribute), never innerHTML.

export const $ = (id) => document.getElementById(id);

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) el.append(child);
  return el;
}

export function cell(label, ...children) { return h('td', { 'data-label': label }, ...children); }

export function options(select, pairs, selected) {
  select.replaceChildren(...pairs.map(([value, label]) => h('option', { value, text: label }, )));
  if (selected !== undefined) select.value = selected;
}

export function fmtTime(seconds) {
  if (!seconds) return '-';
  const d = new Date(seconds * 1000), p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function say(el, text, kind = 'info') { el.textContent = text; el.className = `msg ${kind}` + (el.classList.contains('full') ? ' full' : ''); }

export function toast(text, kind = 'ok') {
  const item = h('div', { class: kind, text });
  $('toast').append(item);
  setTimeout(() => item.remove(), kind === 'err' ? 8000 : 3500);
}

export function newId(prefix, randomChars) {
  const random = Array.from({ length: randomChars }, () => Math.floor(Math.random() * 36).toString(36)).join('');
  return prefix + Date.now().toString(36) + random;
}
