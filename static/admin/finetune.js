// 微调: a voice's training data (upload, check, edit, delete), its fine-tune task (start, follow, cancel)
// and the same sentence spoken zero-shot (the default weights, the voice's clip) and fine-tuned, side by side.
import { state } from './state.js';
import { $, cell, h, say, toast } from './dom.js';
import { ApiError, api, mediaUrl } from './api.js';
import { currentUser, loadTasks } from './tasks.js';
import { loadModels } from './voice_models.js';  // a cycle, used from functions only (see main.js)

const STAGES = { wait: '排队中', prepare: '准备数据', sovits: '训练 SoVITS', gpt: '训练 GPT', export: '导出权重' };
const LIVE = ['wait', 'run'];
const POLL_MS = 1000;
const CLIP_LANGUAGES = { zh: '中文', en: '英文', ja: '日文' };

const voicePath = (suffix = '') => `/voice-models/${encodeURIComponent(state.finetune.model.model_id)}${suffix}`;

export async function openFinetune(model) {
  stopPolling();
  state.finetune = { model, taskId: null, timer: null };
  $('area-finetune').hidden = false;
  $('ft-voice').textContent = `${model.model_name}（${model.model_id}）`;
  for (const el of [$('ft-zero'), $('ft-tuned')]) el.removeAttribute('src');
  say($('ft-progress'), '', 'info');
  $('ft-bar').value = 0;
  showWeights(model);
  $('area-finetune').scrollIntoView({ block: 'start' });
  await Promise.all([loadClips(), findTask()]);
}

function showWeights(model) {
  const w = model.weights;
  $('ft-weights').textContent = w ? `当前使用自有权重：GPT ${w.gpt || '默认'} · SoVITS ${w.sovits || '默认'}` : '当前使用默认权重（零样本）';
}

async function refreshModel() {
  state.finetune.model = await api('GET', voicePath());
  showWeights(state.finetune.model);
}

// ---- training data ----------------------------------------------------------------------------
async function loadClips() {
  let data;
  try { data = await api('GET', voicePath('/training-data')); } catch (err) { return say($('ft-upload-msg'), err.message, 'err'); }
  const rows = data.clips.map(clipRow);
  $('ft-clips').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 5, class: 'muted', text: '还没有训练数据' }))]));
  const pending = data.untranscribed ? `，${data.untranscribed} 条待填写转写` : '';
  $('ft-summary').textContent = `共 ${data.count} 个片段，${data.seconds.toFixed(1)} 秒${pending}`;
}

function clipRow(clip) {
  const text = h('input', { value: clip.text, maxlength: 1000, placeholder: '填写这段音频说的话', class: 'grow' });
  text.addEventListener('change', async () => {
    try {
      await api('PATCH', voicePath(`/training-data/${clip.clip_id}`), { text: text.value });
      toast('转写已保存');
      await loadClips();
    } catch (err) { toast(`保存失败：${err.message}`, 'err'); }
  });
  return h('tr', { 'data-id': clip.clip_id },
    cell('试听', h('audio', { controls: true, preload: 'none', src: mediaUrl(clip.audio_url) })),
    cell('转写文本', text), cell('语种', CLIP_LANGUAGES[clip.language] || clip.language),
    cell('时长', `${clip.seconds.toFixed(1)} 秒`),
    cell('操作', h('button', { class: 'small danger', text: '删除', onclick: () => deleteClip(clip) })));
}

async function deleteClip(clip) {
  try {
    await api('DELETE', voicePath(`/training-data/${clip.clip_id}`));
    await loadClips();
  } catch (err) { toast(`删除失败：${err.message}`, 'err'); }
}

$('ft-upload').addEventListener('submit', async (event) => {
  event.preventDefault();
  const msg = $('ft-upload-msg'), kind = $('ft-kind').value, files = [...$('ft-files').files];
  const transcripts = $('ft-transcripts').value.split('\n').map((line) => line.trim()).filter(Boolean);
  if (!files.length) return say(msg, '请选择文件', 'err');
  if (kind !== 'clips' && files.length > 1) return say(msg, '长录音和压缩包一次只能上传一个文件', 'err');
  if (kind === 'clips' && transcripts.length !== files.length) {
    return say(msg, `${files.length} 个片段需要 ${files.length} 行转写文本（现有 ${transcripts.length} 行）`, 'err');
  }
  const data = new FormData();
  for (const file of files) data.append(kind, file);
  if (kind !== 'archive') {
    for (const line of transcripts) data.append('transcripts', line);
    data.append('language', $('ft-lang').value);
  }
  say(msg, '正在上传并检查…', 'info');
  try {
    const added = await api('POST', voicePath('/training-data'), data);
    const skipped = added.skipped && added.skipped.length ? `，${added.skipped.length} 段不可用已跳过` : '';
    say(msg, `已添加 ${added.added.length} 个片段${skipped}`, 'ok');
    $('ft-upload').reset();
    await loadClips();
  } catch (err) { say(msg, `未添加：${err.message}`, 'err'); }
});

// ---- the fine-tune task -------------------------------------------------------------------------
async function findTask() {
  let page;
  try { page = await api('GET', `/voice-tasks?${new URLSearchParams({ user_id: currentUser(), page_size: 100 })}`); } catch (err) { return; }
  const mine = page.data.find((t) => t.kind === 'finetune' && t.model_id === state.finetune.model.model_id);
  if (mine) follow(mine);
}

function follow(task) {
  state.finetune.taskId = task.task_id;
  showTask(task);
  if (LIVE.includes(task.status) && !state.finetune.timer) state.finetune.timer = setInterval(poll, POLL_MS);
}

function stopPolling() {
  if (state.finetune && state.finetune.timer) clearInterval(state.finetune.timer);
  if (state.finetune) state.finetune.timer = null;
}

async function poll() {
  const { taskId } = state.finetune;
  let task;
  try { task = await api('GET', `/voice-tasks/${encodeURIComponent(taskId)}?${new URLSearchParams({ user_id: currentUser() })}`); } catch (err) { return; }
  if (state.finetune.taskId !== taskId) return;  // another voice was opened meanwhile
  showTask(task);
  if (!LIVE.includes(task.status)) {
    stopPolling();
    if (task.status === 'done') await Promise.all([refreshModel(), loadModels()]);
    loadTasks();
  }
}

function showTask(task) {
  const live = LIVE.includes(task.status);
  $('ft-start').disabled = live;
  $('ft-cancel').hidden = !live;
  $('ft-bar').value = task.status === 'done' ? 100 : task.progress || 0;
  const parts = [`任务 ${task.task_id}`];
  if (task.status === 'done') parts.push('已完成，音模已切换到微调权重');
  else if (task.status === 'error') parts.push(task.reason === 'cancelled' ? '已取消' : `失败：${(task.error || '').split('\n')[0]}`);
  else {
    parts.push(STAGES[task.stage] || task.stage || '排队中');
    if (task.step) parts.push(`第 ${task.epoch} 轮 · 第 ${task.step} 步`);
    if (task.loss !== null && task.loss !== undefined) parts.push(`loss ${Number(task.loss).toFixed(4)}`);
    if (task.eta_seconds !== null && task.eta_seconds !== undefined) parts.push(`剩余约 ${Math.ceil(task.eta_seconds)} 秒`);
  }
  say($('ft-progress'), parts.join(' · '), task.status === 'error' ? 'err' : task.status === 'done' ? 'ok' : 'info');
}

$('ft-train').addEventListener('submit', async (event) => {
  event.preventDefault();
  const number = (id) => Number($(id).value);
  const body = { sovits_epochs: number('ft-sovits'), gpt_epochs: number('ft-gpt'), batch_size: number('ft-batch') };
  try {
    body.user_id = currentUser();
    follow(await api('POST', voicePath('/finetune'), body));
    toast('微调任务已提交');
    loadTasks();
  } catch (err) { say($('ft-progress'), `无法开始：${err.message}`, 'err'); }
});

$('ft-cancel').addEventListener('click', async () => {
  if (!confirm('确认取消微调？已训练的进度会被丢弃，音模保持原样。')) return;
  try {
    await api('DELETE', `/voice-tasks/${encodeURIComponent(state.finetune.taskId)}?${new URLSearchParams({ user_id: currentUser() })}`);
    await poll();
  } catch (err) { toast(`取消失败：${err.message}`, 'err'); }
});

// ---- zero-shot vs fine-tuned ----------------------------------------------------------------------
async function speak(body, audio) {
  const response = await api('POST', '/synthesize', body);
  if (audio.src.startsWith('blob:')) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(await response.blob());
}

$('ft-compare').addEventListener('click', async () => {
  const m = state.finetune.model, text = $('ft-compare-text').value.trim(), msg = $('ft-compare-msg');
  if (!text) return say(msg, '请填写要对比的句子', 'err');
  const shared = { text, text_language: $('ft-compare-lang').value, seed: 1 };
  say(msg, '正在合成…', 'info');
  try {
    // zero-shot: the default weights with the voice's own clip and transcript (no model_id, so no own weights)
    await speak({ ...shared, ref_wav_path: `audio/${m.model_id}/refer.wav`, prompt_text: m.prompt_text,
      prompt_language: m.prompt_language }, $('ft-zero'));
    await speak({ ...shared, model_id: m.model_id }, $('ft-tuned'));
    say(msg, m.weights ? '合成完成' : '合成完成（该音模尚未微调，两者相同）', 'ok');
  } catch (err) { say(msg, `合成失败：${err instanceof ApiError ? err.message : err}`, 'err'); }
});
