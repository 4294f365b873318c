// Synthesis: a picker that searches every voice model on the server, then 'synthesise now' or 'submit as task'.
import { languageLabel } from './vocab.js';
import { state } from './state.js';
import { $, h, newId, say } from './dom.js';
import { ApiError, api, mediaUrl } from './api.js';
import { currentUser, loadTasks } from './tasks.js';

let pickTimer = 0, pickSeq = 0;

async function searchPicker() {
  const seq = ++pickSeq, query = $('pick-search').value.trim();
  const params = new URLSearchParams({ page: 1, page_size: 20 });
  if (query) params.set('name', query);
  const list = $('pick-list');
  let page;
  try { page = await api('GET', `/voice-models?${params}`); } catch (err) { list.replaceChildren(h('li', { class: 'muted', text: err.message })); return; }
  if (seq !== pickSeq || document.activeElement !== $('pick-search')) return;  // stale, or the user moved on
  const items = page.data.map((m) => h('li', { role: 'option', 'data-id': m.model_id, onmousedown: (e) => { e.preventDefault(); pickModel(m, false); } },
    h('img', { class: 'avatar', src: mediaUrl(m.avatar_url), alt: '' }), h('span', { text: m.model_name }), h('span', { class: 'muted mono', text: m.model_id })));
  if (page.total > page.data.length) items.push(h('li', { class: 'muted', text: `共 ${page.total} 个，请输入更多字搜索` }));
  list.replaceChildren(...(items.length ? items : [h('li', { class: 'muted', text: '没有匹配的音模' })]));
  list.hidden = false;
  $('pick-search').setAttribute('aria-expanded', 'true');
}

function closePicker() { $('pick-list').hidden = true; $('pick-search').setAttribute('aria-expanded', 'false'); }

export function pickModel(m, scroll) {
  state.picked = m;
  clearTimeout(pickTimer);
  pickSeq += 1;  // a search still on its way must not reopen the list
  closePicker();
  const chosen = $('pick-chosen');
  if (!m) { chosen.replaceChildren('尚未选择音模'); chosen.className = 'chosen muted'; return; }
  $('pick-search').value = '';
  chosen.className = 'chosen';
  chosen.replaceChildren(h('img', { class: 'avatar', src: mediaUrl(m.avatar_url), alt: '' }),
    h('span', {}, h('strong', { text: m.model_name }), ' ', h('span', { class: 'muted mono', text: `(${m.model_id})` }),
      h('div', { class: 'muted', text: `参考：${m.prompt_text || '（无参考文本）'} · ${languageLabel(m.prompt_language)}` })));
  for (const row of $('model-rows').children) row.classList.toggle('selected', row.dataset.id === m.model_id);
  if (scroll) $('area-synth').scrollIntoView({ behavior: 'smooth' });
}

$('pick-search').addEventListener('input', () => { clearTimeout(pickTimer); pickTimer = setTimeout(searchPicker, 250); });
$('pick-search').addEventListener('focus', searchPicker);
$('pick-search').addEventListener('blur', () => setTimeout(closePicker, 150));
$('pick-search').addEventListener('keydown', (e) => {
  if (e.key === 'Escape') closePicker();
  if (e.key === 'Enter') { e.preventDefault(); const first = $('pick-list').querySelector('li[data-id]'); if (first) first.dispatchEvent(new MouseEvent('mousedown')); }
});

function synthesisBody() {
  if (!state.picked) throw new ApiError('请先选择音模');
  const text = $('s-text').value.trim();
  if (!text) throw new ApiError('请填写目标文本');
  const num = (id, label, low, high, lowOpen) => {
    const value = Number($(id).value);
    if ($(id).value.trim() === '' || !Number.isFinite(value) || value > high || (lowOpen ? value <= low : value < low))
      throw new ApiError(`${label} 需在 ${lowOpen ? '(' : '['}${low}, ${high}] 范围内`);
    return value;
  };
  const taskId = $('s-task-id').value.trim();
  if (taskId && !/^[A-Za-z0-9_-]{1,64}$/.test(taskId)) throw new ApiError('任务ID 只能包含字母、数字、_ 和 -');
  return { model_id: state.picked.model_id, text, text_language: $('s-lang').value, how_to_cut: $('s-cut').value,
           top_k: Math.round(num('s-topk', 'top_k', 1, 100)), top_p: num('s-topp', 'top_p', 0, 1, true),
           temperature: num('s-temp', '温度', 0, 2, true), speed: num('s-speed', '语速', 0.5, 2) };
}

$('synth-now').addEventListener('click', async () => {
  const msg = $('synth-msg'), button = $('synth-now');
  let body;
  try { body = synthesisBody(); } catch (err) { return say(msg, err.message, 'err'); }
  button.disabled = true;
  say(msg, '正在合成，请稍候…（长文本建议提交任务）', 'info');
  try {
    const response = await api('POST', '/synthesize', body);
    const url = URL.createObjectURL(await response.blob());
    const audio = $('synth-audio');
    if (audio.src.startsWith('blob:')) URL.revokeObjectURL(audio.src);
    audio.src = url;
    $('synth-download').href = url;
    $('synth-download').download = `${body.model_id}-${Date.now()}.wav`;
    $('synth-result').hidden = false;
    say(msg, '合成完成', 'ok');
    audio.play().catch(() => {});
  } catch (err) { say(msg, `合成失败：${err.message}`, 'err'); } finally { button.disabled = false; }
});

$('synth-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const msg = $('synth-msg');
  let body;
  try { body = { ...synthesisBody(), user_id: currentUser() }; } catch (err) { return say(msg, err.message, 'err'); }
  // A fresh id each time: a typed id is used once, then cleared (the server refuses a reused id).
  body.task_id = $('s-task-id').value.trim() || newId('T', 6).toUpperCase();
  say(msg, '正在提交…', 'info');
  try {
    const task = await api('POST', '/voice-tasks', body);
    $('s-task-id').value = '';
    say(msg, `任务已提交：${task.task_id}`, 'ok');
    state.tasks.page = 1;
    await loadTasks();
  } catch (err) { say(msg, `提交失败：${err.message}`, 'err'); }
});
