// The admin page's entry point (index.html loads only this module). Importing an area's
// module wires its forms and buttons; start() then fills the page. Modules that call each other
// (categories <-> voice models) only do so from functions, never while loading, so the cycle is harmless.
import { CUTS, HEALTH_POLL_MS, LANGUAGES, TASK_POLL_MS, USER_STORE } from './vocab.js';
import { state } from './state.js';
import { $, newId, options } from './dom.js';
import { settleKey } from './api.js';
import { refreshHealth } from './health.js';
import { loadCategories } from './categories.js';
import { loadModels } from './voice_models.js';
import { loadTasks, pollTasks } from './tasks.js';
import './synthesis.js';  // the synthesis form (also reached through voice_models.js)
import './finetune.js';  // the 微调 area (opened from a voice's row)

async function start() {
  for (const select of document.querySelectorAll('.lang-select')) options(select, LANGUAGES, 'all_zh');
  options($('s-cut'), CUTS, 'cut1');
  $('user-id').value = localStorage.getItem(USER_STORE) || newId('user_', 2);
  localStorage.setItem(USER_STORE, $('user-id').value);
  refreshHealth();
  setInterval(refreshHealth, HEALTH_POLL_MS);
  if (!(await settleKey())) return;
  await loadCategories();
  await Promise.all([loadModels(), loadTasks()]);
  setInterval(pollTasks, TASK_POLL_MS);
  state.started = true;
}

start();
