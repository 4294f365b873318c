// Categories: create, rename, delete, and the filter and checkboxes that follow their list.
import { state } from './state.js';
import { $, cell, fmtTime, h, newId, options, say, toast } from './dom.js';
import { openModal } from './dialog.js';
import { ApiError, api } from './api.js';
import { loadModels } from './voice_models.js';

export async function loadCategories() {
  try { state.categories = await api('GET', '/voice-categories'); } catch (err) { toast(`分类加载失败：${err.message}`, 'err'); return; }
  renderCategories();
}

export function categoryName(id) { const c = state.categories.find((x) => x.category_id === id); return c ? c.category_name : id; }

export function renderCategories() {
  const rows = state.categories.map((c) => h('tr', { 'data-id': c.category_id },
    cell('名称', c.category_name), cell('分类ID', h('span', { class: 'mono', text: c.category_id })),
    cell('描述', c.description || '-'), cell('音模数', String(c.model_count ?? 0)), cell('创建时间', fmtTime(c.created_at)),
    cell('操作', h('div', { class: 'inline' },
      h('button', { class: 'small', text: '筛选', onclick: () => filterByCategory(c.category_id) }),
      h('button', { class: 'small', text: '重命名', onclick: () => renameCategory(c) }),
      h('button', { class: 'small danger', text: '删除', onclick: () => deleteCategory(c) })))));
  $('category-rows').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 6, class: 'muted', text: '还没有分类' }))]));
  // The model list's filter and the create form's checkboxes follow the same list.
  const filter = $('list-category'), current = filter.value;
  options(filter, [['', '全部'], ...state.categories.map((c) => [c.category_id, `${c.category_name}（${c.model_count ?? 0}）`])]);
  filter.value = state.categories.some((c) => c.category_id === current) ? current : '';
  const checked = new Set(checkedValues($('m-cats')));
  $('m-cats').replaceChildren(...(state.categories.length ? categoryChecks(checked) : [h('span', { class: 'muted', text: '默认不分类，可多选。' })]));
}

export function categoryChecks(checked) {
  return state.categories.map((c) => h('label', {}, h('input', { type: 'checkbox', value: c.category_id, checked: checked.has(c.category_id) }), c.category_name));
}

export function checkedValues(box) { return [...box.querySelectorAll('input[type=checkbox]:checked')].map((i) => i.value); }

$('category-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = $('cat-name').value.trim();
  if (!name) return say($('category-msg'), '请填写分类名称', 'err');
  const id = $('cat-id').value.trim() || newId('cat_', 4);
  try {
    await api('POST', '/voice-categories', { category_id: id, category_name: name, description: $('cat-desc').value.trim() });
    say($('category-msg'), `创建成功，ID: ${id}`, 'ok');
    event.target.reset();
    await loadCategories();
  } catch (err) { say($('category-msg'), `创建失败：${err.message}`, 'err'); }
});

function renameCategory(c) {
  const name = h('input', { value: c.category_name, maxlength: 100 }), desc = h('input', { value: c.description || '', maxlength: 500 });
  openModal(`修改分类 ${c.category_id}`, [h('div', { class: 'form' }, h('label', { text: '名称' }), name, h('label', { text: '描述' }), desc)], async () => {
    if (!name.value.trim()) throw new ApiError('请填写分类名称');
    await api('PATCH', `/voice-categories/${encodeURIComponent(c.category_id)}`, { category_name: name.value.trim(), description: desc.value.trim() });
    toast('分类已更新');
    await loadCategories();
    await loadModels();
  });
}

async function deleteCategory(c) {
  const count = c.model_count ?? 0;
  if (!confirm(`确认删除分类「${c.category_name}」？${count ? `其中的 ${count} 个音模将不再属于该分类（音模本身不会删除）。` : ''}`)) return;
  try {
    await api('DELETE', `/voice-categories/${encodeURIComponent(c.category_id)}`);
    toast('删除成功');
    await loadCategories();
    await loadModels();
  } catch (err) { toast(`删除失败：${err.message}`, 'err'); }
}

function filterByCategory(id) {
  $('list-category').value = id;
  state.models.page = 1;
  loadModels();
  $('area-models').scrollIntoView({ behavior: 'smooth' });
}
