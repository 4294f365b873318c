// Voice models: the create form, the paged list with search and category filter, edit, categories, delete.
import { LANGUAGES, languageLabel } from './vocab.js';
import { state } from './state.js';
import { $, cell, fmtTime, h, options, say, toast } from './dom.js';
import { openModal } from './dialog.js';
import { ApiError, api, mediaUrl } from './api.js';
import { categoryChecks, categoryName, checkedValues, loadCategories, renderCategories } from './categories.js';
import { checkClip, previewAvatar } from './clip.js';
import { pickModel } from './synthesis.js';
import { openFinetune } from './finetune.js';

$('m-clip').addEventListener('change', () => checkClip($('m-clip'), $('m-clip-info')));
$('m-avatar').addEventListener('change', () => previewAvatar($('m-avatar'), $('m-avatar-preview')));

$('model-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target, msg = $('model-msg');
  const clipError = await checkClip($('m-clip'), $('m-clip-info'));
  if (clipError) return say(msg, clipError, 'err');
  const data = new FormData(form);
  for (const id of checkedValues($('m-cats'))) data.append('categories', id);
  say(msg, '正在上传…', 'info');
  try {
    const record = await api('POST', '/voice-models', data);
    say(msg, `创建成功：${record.model_name}`, 'ok');
    form.reset();
    $('m-avatar-preview').hidden = true;
    say($('m-clip-info'), '需 3~10 秒', 'info');
    renderCategories();
    await Promise.all([loadModels(), loadCategories()]);
  } catch (err) { say(msg, `失败：${err.message}`, 'err'); }
});


export async function loadModels() {
  const params = new URLSearchParams({ page: state.models.page, page_size: $('list-size').value });
  if ($('list-search').value.trim()) params.set('name', $('list-search').value.trim());
  if ($('list-category').value) params.set('category', $('list-category').value);
  let page;
  try { page = await api('GET', `/voice-models?${params}`); } catch (err) { say($('list-msg'), `加载失败：${err.message}`, 'err'); return; }
  say($('list-msg'), '', 'info');
  state.models.total = page.total;
  const pages = Math.max(1, Math.ceil(page.total / page.pageSize));
  if (state.models.page > pages && page.total > 0) { state.models.page = pages; return loadModels(); }
  const rows = page.data.map(modelRow);
  $('model-rows').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 9, class: 'muted', text: '没有符合条件的音模' }))]));
  $('list-pager').textContent = `第 ${page.pageIndex} 页 / 共 ${pages} 页（共 ${page.total} 条）`;
  $('list-prev').disabled = page.pageIndex <= 1;
  $('list-next').disabled = page.pageIndex >= pages;
}

function modelRow(m) {
  const chips = (m.categories || []).map((id) => h('span', { class: 'chip', text: categoryName(id) }));
  return h('tr', { 'data-id': m.model_id, class: state.picked && state.picked.model_id === m.model_id ? 'selected' : '' },
    cell('头像', h('img', { class: 'avatar', src: mediaUrl(m.avatar_url), alt: '' })),
    cell('名称', m.model_name, m.weights ? h('div', { class: 'chip', text: '已微调', title: '使用自有权重' }) : null),
    cell('标识', h('span', { class: 'mono', text: m.model_id })),
    cell('性别', m.gender === 1 ? '男' : '女'), cell('分类', chips.length ? chips : '-'),
    cell('参考文本', h('div', { class: 'clip-text', title: m.prompt_text || '', text: m.prompt_text || '-' }),
      h('div', { class: 'muted', text: `${languageLabel(m.prompt_language)} · ${Number(m.clip_seconds || 0).toFixed(1)} 秒` })),
    cell('参考音频', h('audio', { controls: true, preload: 'none', src: mediaUrl(m.refer_wav_url) })),
    cell('创建时间', fmtTime(m.created_at)),
    cell('操作', h('div', { class: 'inline' },
      h('button', { class: 'small', text: '合成', onclick: () => pickModel(m, true) }),
      h('button', { class: 'small', text: '编辑', onclick: () => editModel(m) }),
      h('button', { class: 'small', text: '微调', onclick: () => openFinetune(m) }),
      h('button', { class: 'small', text: '设置分类', onclick: () => setModelCategories(m) }),
      h('button', { class: 'small danger', text: '删除', onclick: () => deleteModel(m) }))));
}


function listFrom(pageOne) { return () => { if (pageOne) state.models.page = 1; loadModels(); }; }
$('list-search').addEventListener('keydown', (e) => { if (e.key === 'Enter') listFrom(true)(); });
$('list-search-btn').addEventListener('click', listFrom(true));
$('list-category').addEventListener('change', listFrom(true));
$('list-size').addEventListener('change', listFrom(true));
$('list-refresh').addEventListener('click', () => { loadCategories(); loadModels(); });
$('list-prev').addEventListener('click', () => { state.models.page = Math.max(1, state.models.page - 1); loadModels(); });
$('list-next').addEventListener('click', () => { state.models.page += 1; loadModels(); });

function editModel(m) {
  const name = h('input', { value: m.model_name, maxlength: 100 });
  const gender = h('select'); options(gender, [['1', '男'], ['2', '女']], String(m.gender));
  const prompt = h('input', { value: m.prompt_text || '', maxlength: 1000 });
  const lang = h('select'); options(lang, LANGUAGES, m.prompt_language);
  const avatar = h('input', { type: 'file', accept: 'image/*' }), clip = h('input', { type: 'file', accept: 'audio/*' });
  const clipInfo = h('div', { class: 'msg info', text: '不换可留空；需 3~10 秒' });
  clip.addEventListener('change', () => checkClip(clip, clipInfo));
  const fields = [['名称', name], ['性别', gender], ['参考文本', prompt], ['语种', lang], ['新头像', avatar], ['新参考音频', h('div', {}, clip, clipInfo)]];
  openModal(`编辑音模 ${m.model_id}`, [h('div', { class: 'form' }, fields.flatMap(([label, input]) => [h('label', { text: label }), input]))], async () => {
    const data = new FormData();
    if (name.value.trim() !== m.model_name) data.append('model_name', name.value.trim());
    if (gender.value !== String(m.gender)) data.append('gender', gender.value);
    if (prompt.value !== (m.prompt_text || '')) data.append('prompt_text', prompt.value);
    if (lang.value !== m.prompt_language) data.append('prompt_language', lang.value);
    if (avatar.files[0]) data.append('avatar', avatar.files[0]);
    if (clip.files[0]) { const error = await checkClip(clip, clipInfo); if (error) throw new ApiError(error); data.append('refer_wav', clip.files[0]); }
    if ([...data.keys()].length === 0) throw new ApiError('没有需要修改的字段');
    const record = await api('PATCH', `/voice-models/${encodeURIComponent(m.model_id)}`, data);
    if (state.picked && state.picked.model_id === record.model_id) pickModel(record, false);
    toast('音模已更新');
    await loadModels();
  });
}

function setModelCategories(m) {
  if (!state.categories.length) return toast('请先创建分类', 'err');
  const box = h('div', { class: 'checks' }, categoryChecks(new Set(m.categories || [])));
  openModal(`设置音模分类：${m.model_name}`, [box], async () => {
    await api('POST', `/voice-models/${encodeURIComponent(m.model_id)}/categories`, { categories: checkedValues(box) });
    toast('分类已更新');
    await Promise.all([loadModels(), loadCategories()]);
  });
}

async function deleteModel(m) {
  if (!confirm(`确认删除音模「${m.model_name}」（${m.model_id}）？参考音频和头像会一起删除。`)) return;
  try {
    await api('DELETE', `/voice-models/${encodeURIComponent(m.model_id)}`);
    toast('删除成功');
    if (state.picked && state.picked.model_id === m.model_id) pickModel(null, false);
    await Promise.all([loadModels(), loadCategories()]);
  } catch (err) { toast(`删除失败：${err.message}`, 'err'); }
}
