// The one modal dialog: a title, some fields, and an OK that may fail with a message.
import { $, say } from './dom.js';

let modalDone = null;
export function openModal(title, body, onOk, onClose) {
  $('modal-title').textContent = title;
  $('modal-body').replaceChildren(...body);
  say($('modal-msg'), '', 'err');
  modalDone = { onOk, onClose };
  $('modal').showModal();
}

$('modal-form').addEventListener('submit', async (event) => {
  if (event.submitter && event.submitter.value === 'cancel') return;  // the dialog closes itself
  event.preventDefault();
  const ok = $('modal-ok');
  ok.disabled = true;
  try { await modalDone.onOk(); $('modal').close(); } catch (err) { say($('modal-msg'), err.message, 'err'); } finally { ok.disabled = false; }
});
$('modal').addEventListener('close', () => { if (modalDone && modalDone.onClose) modalDone.onClose(); modalDone = null; });
