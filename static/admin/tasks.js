// Tasks: rows keyed by task_id and updated in place, so a playing <audio> is never replaced;
// only the tasks still waiting or running are polled.
import { REASONS, STATUS, USER_STORE } from './vocab.js';
import { state } from './state.js';
import { $, cell, fmtTime, h, say, toast } from './dom.js';
import { ApiError, api, mediaUrl } from './api.js';

export function currentUser() {
  const id = $('user-id').value.trim();
  if (!id) throw new ApiError('请填写用户ID');
  return id;
}

function taskIdsFilter() { return $('task-ids').value.split(/[,，、\s]+/).filter(Boolean); }

export async function loadTasks() {
  let user;
  try { user = currentUser(); } catch (err) { return say($('task-msg'), err.message, 'err'); }
  const ids = state.tasks.ids;
  const params = new URLSearchParams({ user_id: user });
  if (ids.length) params.set('ids', ids.join(','));
  else { params.set('page', state.tasks.page); params.set('page_size', $('task-size').value); }
  let page;
  try { page = await api('GET', `/voice-tasks?${params}`); } catch (err) { return say($('task-msg'), `加载失败：${err.message}`, 'err'); }
  say($('task-msg'), page.total ? '' : (ids.length ? '没有找到这些任务' : '还没有任务：在上方“选择音模进行合成”提交一个'), 'info');
  placeTaskRows(page.data);
  const pages = Math.max(1, Math.ceil(page.total / page.pageSize));
  $('task-pager').textContent = ids.length ? `按任务ID筛选，共 ${page.total} 条记录` : `第 ${page.pageIndex} 页 / 共 ${pages} 页（共 ${page.total} 条）`;
  $('task-prev').disabled = !!ids.length || page.pageIndex <= 1;
  $('task-next').disabled = !!ids.length || page.pageIndex >= pages;
}

// Keeps the rows (and any playing <audio>) of tasks still listed; adds new ones, drops the rest.
function placeTaskRows(tasks) {
  const body = $('task-rows'), wanted = new Set(tasks.map((t) => t.task_id));
  for (const [id, row] of state.taskRows) if (!wanted.has(id)) { row.remove(); state.taskRows.delete(id); }
  tasks.forEach((task, index) => {
    let row = state.taskRows.get(task.task_id);
    if (!row) { row = taskRow(task); state.taskRows.set(task.task_id, row); }
    updateTaskRow(row, task);
    if (body.children[index] !== row) body.insertBefore(row, body.children[index] || null);
  });
}

function taskRow(task) {
  const row = h('tr', { 'data-id': task.task_id });
  row.cells_ = {
    status: h('span', { class: 'status' }), reason: h('div', { class: 'reason' }),
    bar: h('div', { class: 'bar' }, h('div')), count: h('div', { class: 'muted' }),
    times: h('div', { class: 'muted' }), result: h('div', { class: 'inline' }),
    remove: h('button', { class: 'small danger', onclick: () => deleteTask(row) }),
  };
  const c = row.cells_;
  row.append(cell('任务ID', h('span', { class: 'mono', text: task.task_id })), cell('状态', h('div', {}, c.status, c.reason)),
    cell('进度', h('div', {}, c.bar, c.count)), cell('文本', h('div', { class: 'clip-text', title: task.text, text: task.kind === 'finetune' ? '（微调音模）' : task.text })),
    cell('音模', h('span', { class: 'mono', text: task.model_id || '-' })), cell('时间', c.times), cell('结果', c.result),
    cell('操作', c.remove));
  return row;
}

function updateTaskRow(row, task) {
  const c = row.cells_, signature = JSON.stringify(task);
  row.task = task;
  if (row.signature === signature) return;  // nothing changed: leave the row alone
  row.signature = signature;
  c.status.textContent = (task.kind === 'finetune' && task.status === 'run') ? '训练中' : STATUS[task.status] || task.status;
  c.status.className = `status ${task.status}`;
  c.reason.replaceChildren();
  if (task.status === 'error') {
    const first = task.reason === 'cancelled' ? '' : (task.error || '').split('\n')[0];  // "cancelled" says it all
    c.reason.append(`${REASONS[task.reason] || task.reason || ''}${first ? '：' + first : ''}`);
    if ((task.error || '').includes('\n')) c.reason.append(h('details', {}, h('summary', { text: '详情' }), task.error));
  }
  const total = task.total_segments || 0, done = task.segments_done || 0;
  const percent = task.status === 'done' ? 100 : (task.progress || 0);
  c.bar.className = `bar ${task.status}`;
  c.bar.firstChild.style.width = `${percent}%`;
  c.bar.title = `${percent}%`;
  const idle = { wait: '等待开始', run: '准备中', error: '未开始合成' }[task.status];
  c.count.textContent = total ? `${done}/${total} 段 · ${percent}%` : (idle || `${percent}%`);
  c.times.replaceChildren(h('div', { text: `创建 ${fmtTime(task.created_at)}` }),
    task.started_at ? h('div', { text: `开始 ${fmtTime(task.started_at)}` }) : '',
    task.finished_at ? h('div', { text: `结束 ${fmtTime(task.finished_at)}` }) : '');
  c.remove.textContent = task.status === 'wait' || task.status === 'run' ? '取消' : '删除';
  if (task.status === 'done' && task.result_url && !c.result.querySelector('audio')) {
    const url = mediaUrl(task.result_url);  // the player is made once and never replaced
    c.result.replaceChildren(h('audio', { controls: true, preload: 'none', src: url }),
      h('a', { href: url, download: `${task.task_id}.wav`, text: '下载', class: 'download' }));
  } else if (task.status !== 'done' && !c.result.firstChild) c.result.append(h('span', { class: 'muted', text: '-' }));
}

async function deleteTask(row) {
  const task = row.task, active = task.status === 'wait' || task.status === 'run';
  if (!confirm(active ? `确认取消任务 ${task.task_id}？` : `确认删除任务 ${task.task_id}？结果音频也会删除。`)) return;
  try {
    const data = await api('DELETE', `/voice-tasks/${encodeURIComponent(task.task_id)}?user_id=${encodeURIComponent(task.user_id)}`);
    toast(data.removed ? (active ? '任务已取消并删除' : '任务已删除') : (data.cancelled ? '任务已取消' : '任务已不存在'));
    await loadTasks();
  } catch (err) { toast(`删除失败：${err.message}`, 'err'); }
}

// Live updates: only the tasks still waiting or running are asked for, by id.
let polling = false;
export async function pollTasks() {
  const active = [...state.taskRows.values()].filter((row) => row.task.status === 'wait' || row.task.status === 'run');
  if (!active.length || document.hidden || polling) return;
  const params = new URLSearchParams({ user_id: active[0].task.user_id, ids: active.map((row) => row.task.task_id).join(',') });
  let page;
  polling = true;
  try { page = await api('GET', `/voice-tasks?${params}`); } catch (err) { return; } finally { polling = false; }
  const seen = new Set();
  for (const task of page.data) { const row = state.taskRows.get(task.task_id); if (row) { updateTaskRow(row, task); seen.add(task.task_id); } }
  if (active.some((row) => !seen.has(row.task.task_id))) loadTasks();  // removed elsewhere or expired
}

function applyTaskFilter() { state.tasks.ids = taskIdsFilter(); state.tasks.page = 1; loadTasks(); }
$('task-filter').addEventListener('click', applyTaskFilter);
$('task-ids').addEventListener('keydown', (e) => { if (e.key === 'Enter') applyTaskFilter(); });
$('task-size').addEventListener('change', () => { state.tasks.page = 1; loadTasks(); });
$('task-refresh').addEventListener('click', loadTasks);
$('task-prev').addEventListener('click', () => { state.tasks.page = Math.max(1, state.tasks.page - 1); loadTasks(); });
$('task-next').addEventListener('click', () => { state.tasks.page += 1; loadTasks(); });
$('user-id').addEventListener('change', () => {
  const id = $('user-id').value.trim();
  if (id) localStorage.setItem(USER_STORE, id);
  state.tasks.page = 1;
  for (const row of state.taskRows.values()) row.remove();
  state.taskRows.clear();
  loadTasks();
});

// Back on the tab: tasks submitted elsewhere show up (rows already shown are kept and updated in place).
document.addEventListener('visibilitychange', () => { if (!document.hidden && state.started) loadTasks(); });
